/**
 * Stage 7 of `runSuite`: the adversarial examples a report shows, taken from the attacks behind the verdict
 * (the failing threshold's, else the worst case's).
 */
import type { Dataset } from '../../data/index.js';
import type { Model } from '../../models/types.js';
import type { SuiteConfig } from '../config.js';
import { chooseGallery, pickSamples } from '../samples.js';
import type { ExampleOutcomes, VisualSample } from '../types.js';
import type { SampleSource } from './attackAll.js';
import type { PlannedAttack } from './types.js';

/** What {@link pickGallery} needs. */
export interface GalleryInput {
  model: Model;
  ds: Dataset;
  attacks: readonly PlannedAttack[];
  examples: ExampleOutcomes;
  /** The results that kept their adversarial inputs (see `attackAll`). */
  sources: readonly SampleSource[];
  config: Pick<SuiteConfig, 'samples' | 'thresholds'>;
}

/** Pick up to `config.samples` (default 8) examples for the gallery; none when no attack has a budget. */
export async function pickGallery({ model, ds, attacks, examples, sources, config }: GalleryInput): Promise<VisualSample[]> {
  const gallery = chooseGallery(attacks.filter((a) => a.kind !== 'minimum-norm'), examples.robust, config.thresholds?.robustAccuracy);
  return gallery ? await pickSamples(model, ds, examples, sources.filter((s) => gallery.keys.includes(s.key)), config.samples ?? 8) : [];
}
