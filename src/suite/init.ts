/**
 * `robust init`: a commented starting suite for a model, as YAML (comments explain every field; the same
 * document as JSON validates against schema/robust.config.schema.json).
 */
import { relative, dirname, resolve } from 'node:path';
import type { LoadedModel } from '../models/index.js';
import { formatDataSource, mapSourcePaths, parseDataSource } from '../data/index.js';
import { boundsRange } from '../tensor/range.js';

export interface InitOptions {
  /** Where the config will be written (model and data paths are made relative to its folder). */
  configPath: string;
  modelPath: string;
  data: string;
  n: number;
  /** Clean accuracy measured on the first examples of `data`, so the thresholds written fit the model. */
  measured?: InitMeasurement;
}

/** What `robust init` measured on the first examples: clean accuracy, and PGD robust accuracy at the smallest eps. */
export interface InitMeasurement {
  cleanAccuracy: number;
  /** Worst case of a short PGD at `startingEps(model)[0]`, over all examples (clean mistakes count as broken). */
  robustAccuracy?: number;
  n: number;
}

/** The suite's eps grid: 10%, 20% and 30% of the input range. */
export function startingEps(model: Pick<LoadedModel, 'bounds'>): number[] {
  const { min, max } = boundsRange(model.bounds);
  const range = max - min;
  return [0.1, 0.2, 0.3].map((f) => Number((f * range).toPrecision(3)));
}

/** `init --data` as a source string: a bare path is taken as `npy:` (an x.npy,y.npy pair). */
export function initDataSource(data: string): string {
  return /^(mnist|npy|images|csv):/.test(data) ? data : `npy:${data}`;
}

/** Whether a model takes MNIST digits (28×28×1, 10 classes), the one data set robust ships. */
export function takesMnist(model: Pick<LoadedModel, 'inputShape' | 'numClasses'>): boolean {
  const [h, w, c] = model.inputShape;
  return model.inputShape.length === 3 && h === 28 && w === 28 && c === 1 && model.numClasses === 10;
}

/**
 * Thresholds that fit the model, as a regression gate: clean accuracy 0.02 under what was measured, and
 * worst-case robust accuracy at the smallest eps 0.1 under the short PGD's figure (the suite's PGD-40 is a
 * little stronger and runs on other examples, so the first run should not fail on noise). Without a
 * measurement: 0.9 and 0.5.
 */
export function startingThresholds(measured: InitOptions['measured']): { clean: number; robust: number } {
  if (!measured) return { clean: 0.9, robust: 0.5 };
  const floor2 = (v: number) => Math.max(0, Math.floor(v * 100) / 100);
  const clean = floor2(measured.cleanAccuracy - 0.02);
  return { clean, robust: measured.robustAccuracy !== undefined ? floor2(measured.robustAccuracy - 0.1) : floor2(clean / 2) };
}

export function initConfig(model: LoadedModel, o: InitOptions): string {
  const base = dirname(resolve(o.configPath));
  const rel = (p: string) => {
    const r = relative(base, resolve(p));
    return r.startsWith('.') ? r : `./${r}`;
  };
  const { min, max } = boundsRange(model.bounds);
  const range = max - min;
  const eps = startingEps(model);
  const thresholds = startingThresholds(o.measured);
  const measuredNote = o.measured
    ? `  # robust init measured on the first ${o.measured.n} examples: clean accuracy ${o.measured.cleanAccuracy.toFixed(3)}${o.measured.robustAccuracy !== undefined ? `, PGD-20 robust accuracy ${o.measured.robustAccuracy.toFixed(3)} at linf ${eps[0]}` : ''}; the thresholds sit a little below (a regression gate)`
    : '  # starting values: tighten them after the first run';
  const dataSource = formatDataSource(mapSourcePaths(parseDataSource(initDataSource(o.data)), rel));
  return `# robust test suite for ${model.name} (written by robust init; see docs/ci.md)
# Validate in your editor with: # yaml-language-server: $schema=schema/robust.config.schema.json
model:
  path: ${rel(model.modelJsonPath ?? o.modelPath)}
  # Pin the model files: the run fails (exit 1) if they hash differently (tampered or replaced).
  sha256: ${model.sha256 ?? '""'}
  # Input bounds the attacks respect (from the model's metadata, else [0, 1]).
  bounds: { min: ${JSON.stringify(model.bounds.min)}, max: ${JSON.stringify(model.bounds.max)} }
data:
  # The model takes inputs of shape [${model.inputShape.join(', ')}] with ${model.numClasses} classes.
  # mnist:test | npy:<x.npy>,<y.npy> | images:<dir> | csv:<file>, paths relative to this file.
  source: ${dataSource}
  n: ${o.n}          # examples to evaluate; more gives tighter confidence intervals
  sample: first   # or random (seeded)
backend: auto     # tensorflow-gpu, tensorflow, webgpu, wasm or cpu
seed: 0           # every random choice follows from it
batchSize: 100
attacks:
  # An example counts as robust at eps only if no attack of that norm broke it (the worst case).
  - { name: fgsm, norm: linf, eps: [${eps.join(', ')}] }
  - { name: pgd, norm: linf, eps: [${eps.join(', ')}], options: { steps: 40, restarts: 1 } }
  # - { name: autoattack, norm: linf, eps: [${eps[2]}] }   # the standard ensemble: slower, strongest
  # - { name: cw, norm: l2 }                               # minimum-norm: the robustness curve
# Randomised smoothing (Cohen et al. 2019): certified accuracy against L2 radius, of the smoothed model (slower).
# certify: { sigma: ${Number((0.25 * range).toPrecision(3))}, samples: 1000, radii: [0, 0.25, 0.5, 1] }
thresholds:
${measuredNote}
  cleanAccuracy: ${thresholds.clean}
  robustAccuracy:
    "worst@linf:${eps[0]}": ${thresholds.robust}    # keys: <attack>@<norm>:<eps> or worst@<norm>:<eps>
  # score: 50                  # 0-100, the area under the worst-case accuracy-eps curve (docs/metrics.md)
  # certifiedAccuracy: { "0.25": 0.5 }   # with certify: keys are L2 radii
outputs:
  json: robust-report/result.json
  junit: robust-report/junit.xml
  markdown: robust-report/summary.md
  html: robust-report/report.html
`;
}

