/** Where the CLI writes. Injected so the CLI can run in-process in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is an interactive terminal (progress bars) rather than CI or a pipe (plain lines). */
  interactive: boolean;
  /** Whether stdout gets ANSI colours: a TTY, or FORCE_COLOR; never with NO_COLOR (https://no-color.org). */
  colour: boolean;
}

/** The colour rule: NO_COLOR (any non-empty value) wins, then FORCE_COLOR (anything but 0/false), then whether it is a TTY. */
export function colourWanted(env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  return isTty;
}

export function processIo(): Io {
  const ci = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';
  return {
    out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    interactive: Boolean(process.stderr.isTTY) && !ci,
    colour: colourWanted(process.env, Boolean(process.stdout.isTTY)),
  };
}
