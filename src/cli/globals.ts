import type { Command } from 'commander';

/*
 * The global flags as commands see them. Apart from main.ts so that commands, which main.ts registers,
 * need not import main.ts back.
 */

/** Options every command accepts. */
export interface GlobalOptions {
  seed: string;
  backend: string;
  /** `--engine`: auto, onnxruntime or tfjs (see LoadModelOptions.engine). */
  engine: string;
  /** wasm threads (`--threads`); undefined: ROBUST_WASM_THREADS or one per core. */
  threads?: number;
  verbose: boolean;
  quiet: boolean;
  json?: string;
  /** `--max-memory` in bytes; undefined: the backend's default budget (`defaultMemoryBudget`). */
  maxMemory?: number;
}

/** Global options as seen from inside a subcommand. */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}
