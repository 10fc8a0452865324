import type { Command } from 'commander';
import { writeDataset } from '../../data/index.js';
import { UsageError } from '../../errors.js';
import type { Io } from '../io.js';
import { globalsOf } from '../globals.js';
import { addDataOptions, loadDataFromFlags, type DataFlags } from '../options.js';
import { writeFileAtomic } from '../../util/atomic.js';

interface DataCommandFlags extends DataFlags {
  outX?: string;
  outY?: string;
}

/** `robust data <source> --out-x x.npy --out-y y.npy`: export any dataset robust reads as .npy. */
export function registerDataCommand(program: Command, io: Io): void {
  const cmd = program
    .command('data')
    .description('write any dataset robust can read as NumPy .npy files (x float32 NHWC, y int32)')
    .argument('[source]', 'mnist:train | mnist:test | npy:<x>,<y> | images:<dir> | csv:<file> (or use --data / --x --y)')
    .option('--out-x <x.npy>', 'where to write the features')
    .option('--out-y <y.npy>', 'where to write the labels');
  addDataOptions(cmd).action(async (source: string | undefined, flags: DataCommandFlags, self: Command) => {
    const globals = globalsOf(self);
    if (!flags.outX || !flags.outY) throw new UsageError('robust data needs both --out-x <x.npy> and --out-y <y.npy>');
    if (source !== undefined && flags.data !== undefined) throw new UsageError('give the source once: as the argument or as --data');
    const ds = await loadDataFromFlags({ ...flags, ...(source !== undefined ? { data: source } : {}) }, globals.seed);
    await writeDataset(ds, { xPath: flags.outX, yPath: flags.outY });
    const summary = { source: ds.source, n: ds.n, shape: ds.shape, sha256: ds.sha256, x: flags.outX, y: flags.outY };
    io.out(`wrote ${ds.n} examples of shape [${ds.shape.join(', ')}] from ${ds.source} to ${flags.outX} and ${flags.outY} (sha256 ${ds.sha256})`);
    if (globals.json) await writeFileAtomic(globals.json, `${JSON.stringify(summary, null, 2)}\n`);
  });
}
