/**
 * Checks run before the first attack, so a run that would fail at its end (an output path that is a folder, an
 * option value a later attack rejects, an output onto the model under test) fails in its first second instead
 * of after hours. Each check throws a UsageError (exit 2) whose message names the file and the key.
 */
import { autoattackVersions, type AutoAttackVersion } from '../attacks/autoattack.js';
import { getAttack } from '../attacks/registry.js';
import type { DataSource } from '../data/source.js';
import { COUNT_LIMITS, isCount } from '../util/limits.js';
import { checkOutputs, modelInputs, type NamedPath } from '../util/paths.js';
import { UsageError } from '../errors.js';

/**
 * Refuse counts beyond their documented maximum ({@link COUNT_LIMITS}) before anything runs: `steps: 1e12` is a
 * typo that would otherwise run for days with no output. Types and ranges are the option schemas' concern
 * (`checkAttackOptions` of the registry); this adds the upper bounds they leave open.
 * @param where how a message names an option, e.g. `(key) => \`robust.config.json: attacks[0].options.${key}\``
 * @throws UsageError naming the option, the value and the maximum.
 * @example checkCountLimits({ steps: 1e12 }, (k) => `--${k}`) // throws: --steps: 1000000000000 is beyond the documented maximum of 100000
 */
export function checkCountLimits(options: Record<string, unknown>, where: (key: string) => string): void {
  for (const [key, value] of Object.entries(options)) {
    if (!isCount(key) || typeof value !== 'number') continue;
    const max = COUNT_LIMITS[key];
    if (value > max) throw new UsageError(`${where(key)}: ${value} is beyond the documented maximum of ${max} (see docs/errors.md)`);
  }
}

/**
 * Gradient evaluations (or, for score-based attacks, a third of the queries: a forward pass costs about a third of
 * a forward-and-backward one) one attack spends per example at most, from its options over the registry's
 * defaults: the basis of the time estimate a long run prints. Early stopping makes real runs shorter.
 */
export function attackWork(name: string, options: Record<string, unknown>, epsCount: number): number {
  const o = { ...(getAttack(name).defaults as Record<string, unknown>), ...options };
  const num = (k: string, fallback: number) => (typeof o[k] === 'number' ? (o[k] as number) : fallback);
  const steps = num('steps', 1);
  const restarts = num('restarts', 1);
  const queries = num('queries', 0) / 3;
  switch (name) {
    case 'fgsm':
      return epsCount;
    case 'cw':
      return num('binarySteps', 1) * steps;
    case 'deepfool':
      return steps * num('candidates', 1);
    case 'square':
      return epsCount * queries;
    case 'autoattack': {
      // The sum of its components' work, each with the version's options and any the suite overrides, times EOT.
      const version = autoattackVersions()[(o.version as AutoAttackVersion | undefined) ?? 'standard'];
      const names = Array.isArray(o.attacks) ? (o.attacks as string[]) : version.components.map((c) => c.name);
      const overrides = Object.fromEntries(['steps', 'restarts', 'targetClasses', 'queries'].filter((k) => typeof options[k] === 'number').map((k) => [k, options[k]]));
      const eot = num('eotIterations', version.eotIterations);
      return eot * names.reduce((sum, n) => sum + attackWork(n, { ...(version.components.find((c) => c.name === n)?.options ?? {}), ...overrides }, epsCount), 0);
    }
    case 'apgd-t':
    case 'fab-t':
      return epsCount * steps * restarts * num('targetClasses', 1);
    default:
      return epsCount * steps * restarts;
  }
}

/** The files a data source reads (an image folder counts as a whole: nothing may be written inside it). */
export function dataInputs(source: DataSource, label = 'the data'): NamedPath[] {
  switch (source.kind) {
    case 'npy':
      return [{ label: `${label} (x)`, path: source.x }, { label: `${label} (y)`, path: source.y }];
    case 'csv':
      return [{ label, path: source.path }];
    case 'images':
      return [{ label, path: source.dir, folder: true }, ...(source.labels ? [{ label: `${label}'s labels`, path: source.labels }] : [])];
    case 'mnist':
      return [];
  }
}

/** What a run reads: the config (if any), the model's files and the data files. */
export async function runInputs(run: { configPath?: string | null; modelPath?: string; data?: DataSource }): Promise<NamedPath[]> {
  return [
    ...(run.configPath ? [{ label: 'the config', path: run.configPath }] : []),
    ...(run.modelPath ? await modelInputs(run.modelPath, 'the model under test') : []),
    ...(run.data ? dataInputs(run.data) : []),
  ];
}

/**
 * Before a run: every output is checked against every input and the other outputs by real path, and for being
 * writable (see `checkOutputs`).
 * @throws UsageError naming both paths of a clash, or the output that cannot be written.
 */
export async function preflightOutputs(outputs: readonly NamedPath[], run: { configPath?: string | null; modelPath?: string; data?: DataSource }): Promise<void> {
  await checkOutputs(outputs.filter((o) => o.path !== ''), await runInputs(run));
}
