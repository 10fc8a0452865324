/**
 * Documented maximums of every count a user can set (docs/errors.md lists them). A value past its maximum is
 * almost always a typo (`--steps 1e12`) that would otherwise run for days with no output, so the CLI and the
 * suite preflight refuse it with exit 2 before any work. Raise a limit here if a real run needs more.
 */
export const COUNT_LIMITS = {
  steps: 100_000,
  restarts: 1_000,
  binarySteps: 100,
  queries: 10_000_000,
  candidates: 1_000,
  targetClasses: 1_000,
  n: 10_000_000,
  offset: 100_000_000,
  batchSize: 100_000,
  epochs: 10_000,
  samples: 10_000_000,
  n0: 10_000_000,
  shards: 10_000,
  threads: 256,
} as const;

/** A count with a documented maximum. */
export type CountName = keyof typeof COUNT_LIMITS;

/** Whether `key` names a count with a documented maximum. */
export function isCount(key: string): key is CountName {
  return Object.hasOwn(COUNT_LIMITS, key);
}
