/**
 * `robust init`: a commented starting suite for a model, as YAML (comments explain every field; the same
 * document as JSON validates against schema/robust.config.schema.json).
 */
import { relative, dirname, resolve } from 'node:path';
import type { LoadedModel } from '../models/index.js';

export interface InitOptions {
  /** Where the config will be written (model and data paths are made relative to its folder). */
  configPath: string;
  modelPath: string;
  data: string;
  n: number;
}

export function initConfig(model: LoadedModel, o: InitOptions): string {
  const base = dirname(resolve(o.configPath));
  const rel = (p: string) => {
    const r = relative(base, resolve(p));
    return r.startsWith('.') ? r : `./${r}`;
  };
  const range = (typeof model.bounds.max === 'number' ? model.bounds.max : Math.max(...model.bounds.max)) - (typeof model.bounds.min === 'number' ? model.bounds.min : Math.min(...model.bounds.min));
  const eps = [0.1, 0.2, 0.3].map((f) => Number((f * range).toPrecision(3)));
  const dataSource = /^(mnist|npy|images|csv):/.test(o.data) ? o.data : `npy:${o.data}`;
  return `# robust test suite for ${model.name} (written by robust init; see docs/ci.md)
# Validate in your editor with: # yaml-language-server: $schema=schema/robust.config.schema.json
model:
  path: ${rel(model.modelJsonPath ?? o.modelPath)}
  # Pin the model files: the run fails (exit 1) if they hash differently (tampered or replaced).
  sha256: ${model.sha256 ?? '""'}
  # Input bounds the attacks respect (from the model's metadata, else [0, 1]).
  bounds: { min: ${JSON.stringify(model.bounds.min)}, max: ${JSON.stringify(model.bounds.max)} }
data:
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
  cleanAccuracy: 0.9
  robustAccuracy:
    "worst@linf:${eps[0]}": 0.5    # keys: <attack>@<norm>:<eps> or worst@<norm>:<eps>
  # score: 50                  # 0-100, the area under the worst-case accuracy-eps curve (docs/metrics.md)
  # certifiedAccuracy: { "0.25": 0.5 }   # with certify: keys are L2 radii
outputs:
  json: robust-report/result.json
  junit: robust-report/junit.xml
  markdown: robust-report/summary.md
  html: robust-report/report.html
`;
}
