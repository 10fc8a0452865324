/**
 * The CLI: commander wiring only. Each command maps flags onto the library's typed options and calls it;
 * one error handler turns typed errors into one-line messages and exit codes
 * (0 ok, 1 a failed check, 2 usage or input error, 3 unreliable evaluation).
 */
import { Command, CommanderError, Option } from 'commander';
import { RobustError, errorMessage } from '../errors.js';
import { BACKEND_NAMES, MAX_WASM_THREADS } from '../backends/index.js';
import { parseInteger, parseSeed } from './parse.js';
import { parseSize } from '../util/memory.js';
import { processIo, type Io } from './io.js';
import { registerAttackCommand } from './commands/attack.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerCertifyCommand } from './commands/certify.js';
import { registerDataCommand } from './commands/data.js';
import { registerTrainCommand } from './commands/train.js';
import { registerTestCommands } from './commands/test.js';
import { registerScanCommand } from './commands/scan.js';
import { registerVerifyCommand } from './commands/verify.js';
import { VERSION } from '../version.js';
import { globalsOf, type GlobalOptions } from './globals.js';
import { setDefaultEngine, type EngineChoice } from '../models/load.js';

export type { GlobalOptions };
export { globalsOf };

export function buildProgram(io: Io): Command {
  const program = new Command('robust')
    .description('Adversarial-robustness testing for TensorFlow.js models')
    .version(VERSION)
    .addOption(new Option('--seed <seed>', 'seed for every random choice').argParser(parseSeed).default('0'))
    .addOption(new Option('--backend <name>', 'TF.js backend').choices(['auto', ...BACKEND_NAMES]).default('auto'))
    .addOption(new Option('--threads <n>', `wasm backend threads, 1 to ${MAX_WASM_THREADS} (default: one per core)`).argParser(parseInteger('--threads', 1)))
    .addOption(
      new Option('--max-memory <size>', 'tensor memory a run may use, e.g. 512M, 2G, 1.5GiB; batches shrink to fit (default: 2G on wasm, else half the free memory)').argParser(
        (raw: string) => parseSize(raw, '--max-memory'),
      ),
    )
    .addOption(
      new Option('--engine <name>', 'what runs the model: auto (onnxruntime native kernels when installed and the model allows, on wasm or cpu), onnxruntime or tfjs')
        .choices(['auto', 'onnxruntime', 'tfjs'])
        .default('auto'),
    )
    .option('--verbose', 'say which backend was chosen and why, and the batch sizes chosen; show stack traces', false)
    .option('--quiet', 'no progress output', false)
    .option('--json <file>', 'also write the result as JSON (atomically)')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .exitOverride()
    .hook('preAction', (_, action) => setDefaultEngine(globalsOf(action).engine as EngineChoice));
  registerAttackCommand(program, io);
  registerCertifyCommand(program, io);
  registerDataCommand(program, io);
  registerTrainCommand(program, io);
  registerTestCommands(program, io);
  registerVerifyCommand(program, io);
  registerBenchCommand(program, io);
  registerScanCommand(program, io);
  // A subcommand's --help also lists the global flags (--seed, --backend, --json, ...), which it accepts too.
  for (const cmd of program.commands) cmd.exitOverride().configureOutput(program.configureOutput()).configureHelp({ showGlobalOptions: true });
  return program;
}

/** Run the CLI on `argv` (process.argv style). Resolves to the exit code; never throws. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const program = buildProgram(io);
  const verbose = argv.includes('--verbose');
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exit code 0; commander already printed any usage message.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof RobustError) {
      io.err(`robust: ${err.message}`);
      if (verbose && err.stack) io.err(err.stack);
      return err.exitCode;
    }
    io.err(`robust: internal error: ${errorMessage(err)} (please report it; run with --verbose for details)`);
    if (verbose && err instanceof Error && err.stack) io.err(err.stack);
    return 70;
  }
}

