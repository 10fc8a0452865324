import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type * as tfl from '@tensorflow/tfjs-layers';
import { buildReferenceCnn, loadModel, saveLayersModel, type Bounds, type LoadedModel } from '../../models/index.js';
import { TRAINING_METHODS, trainAdversarially, type TrainingMethod } from '../../training/adversarial.js';
import { CHECKPOINT_FILE, removeCheckpoint } from '../../training/checkpoint.js';
import { parseSchedule, scheduleName, type LearningRateSchedule } from '../../training/schedule.js';
import { asClassifier, type Classifier } from '../../training/trainingStep.js';
import { accuracy, predictLabels } from '../../metrics/accuracy.js';
import { loadDataset, parseDataSource, takeSubset, validateDataset } from '../../data/index.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { stdoutOf, type Io } from '../io.js';
import { dataInputs, preflightOutputs } from '../../suite/preflight.js';
import { checkOutputs, type NamedPath } from '../../util/paths.js';
import { globalsOf } from '../globals.js';
import { addDataOptions, dataSourceOf, loadDataFromFlags, startBackend, type DataFlags } from '../options.js';
import { parseInteger, parseNumber } from '../parse.js';
import { makeProgress, type Progress } from '../progress.js';

interface TrainFlags extends DataFlags {
  force?: boolean;
  arch: string;
  model?: string;
  method: TrainingMethod;
  eps: number;
  epsRamp: number;
  steps: number;
  stepSize?: number;
  beta: number;
  epochs: number;
  batchSize: number;
  lr: number;
  lrSchedule: LearningRateSchedule;
  resetOptimizer?: 'never' | 'epoch';
  eval: string;
  holdout: number;
  evalSteps: number;
  shift: number;
  out?: string;
  checkpoint?: string;
  resume: boolean;
  keepCheckpoint: boolean;
}

function parseChoice<T extends string>(flag: string, choices: readonly T[]) {
  return (raw: string): T => {
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    throw new UsageError(`${flag}: expected ${choices.join(', ')}; got "${raw}"`);
  };
}

const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(1)}%`);

/** The model to train: the reference CNN (seeded) or a Layers model.json to fine-tune, with its bounds. */
async function modelFromFlags(flags: TrainFlags, cmd: Command, seed: number): Promise<{ net: tfl.LayersModel; classifier: Classifier; bounds: Bounds; loaded?: LoadedModel; label: string }> {
  if (flags.model === undefined) {
    if (flags.arch !== 'mnist-cnn') throw new UsageError(`--arch: unknown architecture "${flags.arch}"; choose mnist-cnn`);
    const net = buildReferenceCnn(seed);
    return { net, classifier: asClassifier(net), bounds: { min: 0, max: 1 }, label: flags.arch };
  }
  if (cmd.getOptionValueSource('arch') === 'cli') throw new UsageError('give --arch or --model, not both');
  // Not optimised: the attack-time pass copies the weights, and these are about to be trained.
  const loaded = await loadModel(flags.model, { optimize: false });
  const net = loaded.layersModel;
  if (loaded.format !== 'layers-model' || net === undefined) {
    loaded.dispose();
    throw new UsageError(`--model ${flags.model} is a graph model; training needs a Layers model.json`);
  }
  if (loaded.softmaxStripped || loaded.outputsProbabilities) {
    loaded.dispose();
    throw new UsageError(`--model ${flags.model} ends in a softmax; training needs a model whose last layer returns logits`);
  }
  return { net, classifier: asClassifier(net, loaded.normalization), bounds: loaded.bounds, loaded, label: flags.model };
}

/**
 * `robust train`: natural or adversarial training (PGD, TRADES, fast) of the reference architecture or of a
 * Layers model to fine-tune, seeded, checkpointed every epoch and resumable. `models/mnist-cnn` is made by
 * `npm run train:reference` (natural training, Adam restarted every epoch as when it was trained).
 */
export function registerTrainCommand(program: Command, io: Io): void {
  const cmd = program
    .command('train')
    .description('train a classifier (natural, PGD, TRADES or fast adversarial training), seeded and resumable, and save it as a Layers model')
    .option('--arch <name>', 'architecture to build: mnist-cnn', 'mnist-cnn')
    .option('--model <model.json>', 'fine-tune this Layers model (its last layer must return logits) instead of building --arch')
    .option('--method <name>', `${TRAINING_METHODS.join(' | ')}`, parseChoice('--method', TRAINING_METHODS), 'natural')
    .option('--eps <eps>', 'Linf radius to train against, and of the held-out PGD', parseNumber('--eps', { min: 0 }), 0.3)
    .option('--eps-ramp <epochs>', 'raise the training eps linearly from 0 over this many epochs (0: none)', parseNumber('--eps-ramp', { min: 0 }), 0)
    .option('--steps <n>', 'inner PGD steps (pgd, trades)', parseInteger('--steps', 1), 10)
    .option('--step-size <alpha>', 'inner step size (default eps/4, as the pgd attack; fast: 1.25·eps)', parseNumber('--step-size', { min: 0, exclusiveMin: true }))
    .option('--beta <beta>', "TRADES' weight of the robustness term", parseNumber('--beta', { min: 0 }), 6)
    .option('--epochs <n>', 'passes over the training set', parseInteger('--epochs', 1), 3)
    .option('--batch-size <n>', 'examples per step', parseInteger('--batch-size', 1), 64)
    .option('--lr <rate>', 'Adam learning rate (the peak of cyclic and cosine)', parseNumber('--lr', { min: 0, exclusiveMin: true }), 1e-3)
    .addOption(
      new Option('--lr-schedule <name>', 'constant | step | step:<epoch>,<epoch> | cosine | cyclic (one-cycle)')
        .argParser((raw: string) => parseSchedule(raw))
        .default({ kind: 'constant' }, 'constant'),
    )
    .option('--reset-optimizer <when>', 'epoch | never: restart Adam every epoch (default: epoch for natural, as models/mnist-cnn was trained; never otherwise)', parseChoice('--reset-optimizer', ['epoch', 'never'] as const))
    .option('--shift <pixels>', 'augment: random shifts of up to this many pixels (0: none)', parseInteger('--shift', 0), 0)
    .option('--eval <source>', 'held-out data: the first --holdout examples are evaluated every epoch, all of it at the end', 'mnist:test')
    .option('--holdout <n>', 'held-out examples evaluated after every epoch (clean and PGD at --eps; 0: none)', parseInteger('--holdout', 0), 500)
    .option('--eval-steps <n>', 'steps of the held-out PGD', parseInteger('--eval-steps', 1), 20)
    .option('--out <dir>', 'folder that receives model.json, weights.bin and training.json')
    .option('--checkpoint <dir>', 'checkpoint folder, written after every epoch (default <out>/checkpoint)')
    .option('--resume', 'continue from the checkpoint (same settings required)', false)
    .option('--keep-checkpoint', 'keep the checkpoint after the model is saved', false)
    .option('--force', 'replace a model already in --out (never the --model being trained from)');
  addDataOptions(cmd, 'mnist:train').action(async (flags: TrainFlags, self: Command) => {
    const globals = globalsOf(self);
    if (!flags.out) throw new UsageError('robust train needs --out <dir> for the trained model');
    const seed = Number(globals.seed);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 31) throw new UsageError(`--seed: training needs an integer seed in [0, 2^31), got "${globals.seed}"`);
    if (flags.method === 'fast' && self.getOptionValueSource('steps') === 'cli') throw new UsageError('--steps does not apply to --method fast (one FGSM step); leave it out');
    const checkpointDir = flags.checkpoint ?? join(flags.out, 'checkpoint');
    // Hours of training must not end by replacing a model the user had, or fail on an output path then.
    if (existsSync(join(flags.out, 'model.json')) && !flags.force) {
      throw new UsageError(`--out ${flags.out} already holds a model (model.json); pass --force to replace it or choose another --out`);
    }
    const outputs: NamedPath[] = ['model.json', 'weights.bin', 'training.json'].map((f) => ({ label: `--out (${f})`, path: join(flags.out!, f) }));
    if (globals.json) outputs.push({ label: '--json', path: globals.json });
    const evalSource = parseDataSource(flags.eval);
    await preflightOutputs(outputs, { ...(flags.model ? { modelPath: flags.model } : {}), data: dataSourceOf(flags, self) });
    await checkOutputs(outputs, dataInputs(evalSource, '--eval'));
    const backend = await startBackend(globals, io);
    const train = await loadDataFromFlags(flags, globals.seed, self);
    const test = await loadDataset(flags.eval);
    if (flags.holdout > test.n) throw new UsageError(`--holdout ${flags.holdout}: --eval ${flags.eval} has only ${test.n} examples`);
    const holdout = flags.holdout > 0 ? takeSubset(test, { n: flags.holdout }) : undefined;
    const { net, classifier, bounds, loaded, label } = await modelFromFlags(flags, self, seed);
    try {
      const inputShape = net.inputs[0]!.shape.slice(1) as number[];
      const numClasses = net.outputs[0]!.shape[1] as number;
      validateDataset(train, { inputShape, numClasses });
      validateDataset(test, { inputShape, numClasses });
      if (!flags.resume && existsSync(join(checkpointDir, CHECKPOINT_FILE)) && !globals.quiet) {
        io.err(`starting over: the checkpoint in ${checkpointDir} will be replaced (--resume would continue it)`);
      }
      const started = Date.now();
      let bar: Progress | undefined;
      let trainText = '';
      let ticks = 0;
      const result = await trainAdversarially(classifier, train, {
        method: flags.method,
        eps: flags.eps,
        epsRamp: flags.epsRamp,
        steps: flags.steps,
        ...(flags.stepSize !== undefined ? { stepSize: flags.stepSize } : {}),
        beta: flags.beta,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        schedule: flags.lrSchedule,
        resetOptimizer: flags.resetOptimizer ?? (flags.method === 'natural' ? 'epoch' : 'never'),
        seed,
        bounds,
        ...(flags.shift > 0 ? { augment: { maxShift: flags.shift } } : {}),
        ...(holdout !== undefined ? { holdout } : {}),
        evalSteps: flags.evalSteps,
        checkpoint: { dir: checkpointDir, resume: flags.resume },
        onStart: ({ startEpoch, epochs, batches }) => {
          ticks = batches + (holdout ? 1 : 0);
          if (startEpoch > 0 && !globals.quiet) io.err(`resuming from ${checkpointDir} after epoch ${startEpoch}/${epochs}`);
        },
        onBatch: ({ epoch, batch, loss, accuracy: acc }) => {
          // One tick more than there are batches: the last is the held-out evaluation.
          bar ??= makeProgress(io, `epoch ${epoch + 1}/${flags.epochs}`, ticks, globals.quiet);
          trainText = `loss ${loss.toFixed(4)} train acc ${pct(acc)}`;
          bar.update(batch, trainText);
        },
        onEpoch: (r) => {
          if (holdout) bar?.update(ticks, `${trainText} | held-out clean ${pct(r.cleanAccuracy)} adv ${pct(r.adversarialAccuracy)}`);
          bar?.stop();
          bar = undefined;
        },
      });
      const seconds = (Date.now() - started) / 1000;
      const saved = await saveLayersModel(net, flags.out, { bounds });
      const model = await loadModel(join(flags.out, 'model.json'));
      const cleanAccuracy = accuracy(await predictLabels(model, test), test.y);
      model.dispose();
      const report = {
        arch: flags.model === undefined ? flags.arch : null,
        baseModel: flags.model === undefined ? null : { path: flags.model, sha256: loaded?.sha256 ?? null },
        method: flags.method,
        backend: backend.name,
        seed,
        epochs: flags.epochs,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        lrSchedule: scheduleName(flags.lrSchedule),
        shift: flags.shift,
        settings: result.settings,
        data: { source: train.source, n: train.n, sha256: train.sha256 },
        eval: { source: test.source, n: test.n, sha256: test.sha256, cleanAccuracy },
        holdout: holdout ? { source: test.source, n: holdout.n, sha256: holdout.sha256 } : null,
        epochLoss: result.history.map((h) => h.loss),
        history: result.history,
        resumedFrom: result.resumedFrom,
        seconds,
        model: { path: join(flags.out, 'model.json'), sha256: saved.sha256 },
      };
      await writeFileAtomic(join(flags.out, 'training.json'), `${JSON.stringify(report, null, 2)}\n`);
      if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(report, null, 2)}\n`, stdoutOf(io));
      if (!flags.keepCheckpoint) await removeCheckpoint(checkpointDir);
      const last = result.history.at(-1);
      const robust = last?.adversarialAccuracy != null ? `; held-out PGD accuracy at eps ${flags.eps}: ${pct(last.adversarialAccuracy)}` : '';
      io.out(
        `trained ${label} (${flags.method}) on ${train.source} (${train.n}) in ${seconds.toFixed(1)} s on ${backend.name}; ` +
          `clean accuracy on ${test.source}: ${(100 * cleanAccuracy).toFixed(2)}%${robust}`,
      );
    } finally {
      if (loaded) loaded.dispose();
      else net.dispose();
    }
  });
}
