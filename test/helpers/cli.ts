import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in-process, as a non-interactive terminal would (plain progress lines). */
export async function runCli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: (t) => void err.push(t), interactive: false, colour: false };
  const code = await main(['node', 'robust', ...args], io);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}
