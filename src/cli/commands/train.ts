import type { Command } from 'commander';
import { buildReferenceCnn, loadModel, saveLayersModel } from '../../models/index.js';
import { trainClassifier } from '../../training/train.js';
import { accuracy, predictLabels } from '../../metrics/accuracy.js';
import { loadDataset, validateDataset } from '../../data/index.js';
import { UsageError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { Io } from '../io.js';
import { globalsOf } from '../main.js';
import { addDataOptions, loadDataFromFlags, startBackend, type DataFlags } from '../options.js';
import { parseInteger, parseNumber } from '../parse.js';
import { makeProgress } from '../progress.js';
import { join } from 'node:path';

interface TrainFlags extends DataFlags {
  arch: string;
  epochs: number;
  batchSize: number;
  lr: number;
  eval: string;
  shift: number;
  out?: string;
}

/**
 * `robust train`: natural training of the reference architecture, seeded and reproducible. This is how
 * `models/mnist-cnn` is made (`npm run train:reference`); adversarial methods arrive with the defences.
 */
export function registerTrainCommand(program: Command, io: Io): void {
  const cmd = program
    .command('train')
    .description('train the reference CNN (natural training, seeded) and save it as a Layers model')
    .option('--arch <name>', 'architecture: mnist-cnn', 'mnist-cnn')
    .option('--epochs <n>', 'passes over the training set', parseInteger('--epochs', 1), 3)
    .option('--batch-size <n>', 'examples per step', parseInteger('--batch-size', 1), 64)
    .option('--lr <rate>', 'Adam learning rate', parseNumber('--lr', { min: 0, exclusiveMin: true }), 1e-3)
    .option('--shift <pixels>', 'augment: random shifts of up to this many pixels (0: none)', parseInteger('--shift', 0), 0)
    .option('--eval <source>', 'held-out data for the final clean accuracy', 'mnist:test')
    .option('--out <dir>', 'folder that receives model.json and weights.bin');
  addDataOptions(cmd, 'mnist:train').action(async (flags: TrainFlags, self: Command) => {
    const globals = globalsOf(self);
    if (!flags.out) throw new UsageError('robust train needs --out <dir> for the trained model');
    if (flags.arch !== 'mnist-cnn') throw new UsageError(`--arch: unknown architecture "${flags.arch}"; choose mnist-cnn`);
    const seed = Number(globals.seed);
    if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed: training needs a non-negative integer seed, got "${globals.seed}"`);
    const backend = await startBackend(globals, io);
    const train = await loadDataFromFlags(flags, globals.seed);
    const test = await loadDataset(flags.eval);
    const net = buildReferenceCnn(seed);
    validateDataset(train, { inputShape: net.inputs[0]!.shape.slice(1) as number[], numClasses: 10 });
    const started = Date.now();
    const batches = Math.ceil(train.n / flags.batchSize);
    const losses: number[] = [];
    for (let epoch = 0; epoch < flags.epochs; epoch++) {
      const bar = makeProgress(io, `epoch ${epoch + 1}/${flags.epochs}`, batches, globals.quiet);
      const [loss] = await trainClassifier(net, train, {
        epochs: 1,
        batchSize: flags.batchSize,
        learningRate: flags.lr,
        seed: `${seed}/epoch${epoch}`,
        ...(flags.shift > 0 ? { augment: { maxShift: flags.shift } } : {}),
        onBatch: (_e, done, _t, l) => bar.update(done, `loss ${l.toFixed(4)}`),
      });
      bar.stop();
      losses.push(loss ?? Number.NaN);
    }
    const seconds = (Date.now() - started) / 1000;
    const saved = await saveLayersModel(net, flags.out, { bounds: { min: 0, max: 1 } });
    net.dispose();
    const model = await loadModel(join(flags.out, 'model.json'));
    validateDataset(test, { inputShape: model.inputShape, numClasses: model.numClasses });
    const cleanAccuracy = accuracy(await predictLabels(model, test), test.y);
    model.dispose();
    const report = {
      arch: flags.arch,
      backend: backend.name,
      seed,
      epochs: flags.epochs,
      batchSize: flags.batchSize,
      learningRate: flags.lr,
      shift: flags.shift,
      data: { source: train.source, n: train.n, sha256: train.sha256 },
      eval: { source: test.source, n: test.n, sha256: test.sha256, cleanAccuracy },
      epochLoss: losses,
      seconds,
      model: { path: join(flags.out, 'model.json'), sha256: saved.sha256 },
    };
    await writeFileAtomic(join(flags.out, 'training.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(report, null, 2)}\n`);
    io.out(`trained ${flags.arch} on ${train.source} (${train.n}) in ${seconds.toFixed(1)} s on ${backend.name}; clean accuracy on ${test.source}: ${(100 * cleanAccuracy).toFixed(2)}%`);
  });
}
