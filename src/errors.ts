/**
 * Typed errors a user can meet. Each carries the exit code the CLI maps it to and a one-line,
 * actionable message; stack traces are shown only with `--verbose`.
 */
export type ErrorKind = 'usage' | 'input' | 'check' | 'unreliable';

const EXIT_CODES: Record<ErrorKind, number> = { check: 1, usage: 2, input: 2, unreliable: 3 };

export class RobustError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.name = 'RobustError';
    this.kind = kind;
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

/** A flag, option or config value is wrong: exit code 2. */
export class UsageError extends RobustError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

/** A model, dataset or file the user pointed at is missing or malformed: exit code 2. */
export class InputError extends RobustError {
  constructor(message: string) {
    super('input', message);
    this.name = 'InputError';
  }
}

/** A robustness threshold or pin failed: exit code 1. */
export class CheckError extends RobustError {
  constructor(message: string) {
    super('check', message);
    this.name = 'CheckError';
  }
}

/** Format an unknown thrown value as one line. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}
