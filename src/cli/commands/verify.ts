import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InputError, RobustError } from '../../errors.js';
import { parseDataSource } from '../../data/index.js';
import { loadConfig } from '../../suite/config.js';
import { readPublicKey } from '../../provenance/sign.js';
import { verifyResult, type VerifyOptions } from '../../provenance/verify.js';
import type { BackendChoice } from '../../backends/index.js';
import type { Io } from '../io.js';
import { globalsOf } from '../main.js';
import { parseInteger } from '../parse.js';

/** `robust verify result.json`: signature, model and data hashes, and a seeded recheck of outcomes. */
export function registerVerifyCommand(program: Command, io: Io): void {
  program
    .command('verify')
    .description('check a signed result: its signature, the model and data hashes, and (--recheck N) N re-run outcomes (exit 0 all hold, 1 one does not, 2 bad input)')
    .argument('<result>', 'a JSON result written by robust test --sign')
    .option('--pub <file>', 'the trusted signer\'s Ed25519 public key (PEM); without it the key inside the signature is used')
    .option('--model <path>', 'model to hash and compare with the recorded SHA-256')
    .option('--data <source>', 'data source to load with the recorded subset, hash and compare')
    .option('--config <file>', 'the suite file that was run (for --recheck; default: the recorded config path)')
    .option('--recheck <n>', 're-run a seeded sample of n examples and compare their outcomes (needs per-example outcomes)', parseInteger('--recheck', 1))
    .action(async (file: string, flags: { pub?: string; model?: string; data?: string; config?: string; recheck?: number }, self: Command) => {
      const globals = globalsOf(self);
      let doc: unknown;
      try {
        doc = JSON.parse(await readFile(file, 'utf8'));
      } catch (err) {
        throw new InputError(`${file} is not a readable JSON result${err instanceof SyntaxError ? ' (invalid JSON)' : ''}; pass the file robust test --sign wrote`);
      }
      const opts: VerifyOptions = {
        ...(flags.pub !== undefined ? { publicKey: await readPublicKey(flags.pub) } : {}),
        ...(flags.model !== undefined ? { model: flags.model } : {}),
        ...(flags.data !== undefined ? { data: parseDataSource(flags.data) } : {}),
      };
      if (flags.recheck !== undefined) {
        const recorded = (doc as { manifest?: { config?: { path?: unknown } } }).manifest?.config?.path;
        const path = flags.config ?? (typeof recorded === 'string' ? recorded : undefined);
        if (path === undefined) throw new InputError(`${file} records no config path; pass --config with the suite file that was run`);
        const backendFromCli = self.parent?.getOptionValueSource('backend') === 'cli';
        opts.recheck = {
          n: flags.recheck,
          config: await loadConfig(path),
          ...(globals.threads !== undefined ? { threads: globals.threads } : {}),
          ...(backendFromCli ? { backend: globals.backend as BackendChoice } : {}),
        };
      }
      const checks = await verifyResult(doc, opts);
      for (const c of checks) io.out(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.message}`);
      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) throw new RobustError('check', `${file} does not verify: ${failed.map((c) => c.name).join(', ')}`);
      io.out(`${file} verifies`);
    });
}
