/**
 * Stage 1 of `runSuite`: choose the backend, load the model (every format's loader applies the attack-time
 * pass), wrap it in the suite's defences and check its SHA-256 pin.
 */
import { useBackend, type BackendInfo } from '../../backends/index.js';
import { loadModel, type LoadedModel } from '../../models/index.js';
import type { Model } from '../../models/types.js';
import { withDefenses } from '../../defenses/registry.js';
import { CheckError } from '../../errors.js';
import type { SuiteConfig } from '../config.js';
import type { RunSuiteOptions } from './types.js';

/** What {@link openModel} needs. */
export interface OpenModelInput {
  config: SuiteConfig;
  /** The run's seed (defences with randomness key their streams on it). */
  seed: string;
  options: Pick<RunSuiteOptions, 'backend' | 'threads' | 'adaptive' | 'onBackend' | 'onAccessNote'>;
}

/** What {@link openModel} gives. The caller owns `model` and disposes it (which disposes `loaded`). */
export interface OpenModelOutput {
  backend: BackendInfo;
  /** The model as loaded, before any defence: data layout follows it; `engine` says what runs it. */
  loaded: LoadedModel;
  /** The view every later stage attacks: the adaptive or naive defended model, or `loaded` without defences. */
  model: Model;
  /** Whether attacks go through the defences' BPDA/EOT gradients; null without defences. */
  adaptive: boolean | null;
}

/**
 * Open the suite's model. Throws CheckError when its SHA-256 differs from the pinned one, and disposes what it
 * loaded on any failure.
 */
export async function openModel({ config, seed, options }: OpenModelInput): Promise<OpenModelOutput> {
  const backend = await useBackend(options.backend ?? config.backend ?? 'auto', options.threads !== undefined ? { threads: options.threads } : {});
  options.onBackend?.(backend);
  const loaded = await loadModel(config.model.path, {
    ...(config.model.bounds ? { bounds: config.model.bounds } : {}),
    ...(config.model.normalization ? { normalization: config.model.normalization } : {}),
    ...(config.model.output ? { output: config.model.output } : {}),
  });
  if (loaded.accessNote !== undefined) options.onAccessNote?.(loaded.accessNote);
  // With defences, every later stage (clean pass, attacks, probes) sees the view the suite asks for:
  // adaptive (BPDA/EOT gradients) by default, or the naive one; disposing it disposes the loaded model.
  let model: Model = loaded;
  const defenses = config.defenses ?? [];
  const defended = defenses.length > 0;
  const adaptive = defended ? (options.adaptive ?? config.adaptive ?? true) : null;
  try {
    if (defended) {
      const views = withDefenses(loaded, defenses, { seed });
      model = adaptive ? views.adaptive : views.naive;
    }
    if (config.model.sha256 && model.sha256 !== config.model.sha256) {
      throw new CheckError(
        `model ${config.model.path} has SHA-256 ${model.sha256} but the config pins ${config.model.sha256}: it may have been tampered with or replaced; if the change is intended, update model.sha256`,
      );
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { backend, loaded, model, adaptive };
}
