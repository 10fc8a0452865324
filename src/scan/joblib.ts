/**
 * joblib pickles. joblib writes each NumPy array's bytes straight into the pickle stream after the BUILD of
 * its NumpyArrayWrapper (after one padding-length byte and padding when aligned), and object arrays as a
 * nested pickle, so the disassembler has to step over those bytes to reach the opcodes that follow.
 */
import type { ScanContext } from './context.js';
import { itemSize } from './numpy.js';
import { disassemblePickle, type PickleOptions, type PickleValue } from './pickle.js';

function field(state: PickleValue | undefined, key: string): PickleValue | undefined {
  if (state?.kind !== 'dict') return undefined;
  return state.entries.find(([k]) => k.kind === 'str' && k.value === key)?.[1];
}

function isWrapper(v: PickleValue): boolean {
  return v.kind === 'call' && v.callee.kind === 'global' && v.callee.name === 'NumpyArrayWrapper' && v.callee.module.endsWith('numpy_pickle');
}

/** The disassembler hook that skips the array bytes joblib interleaves with the opcodes. */
export function joblibOptions(bytes: Uint8Array, ctx: ScanContext): PickleOptions {
  const options: PickleOptions = {
    afterBuild: (target, at) => {
      if (target.kind !== 'call' || !isWrapper(target)) return undefined;
      const dtype = field(target.state, 'dtype');
      const descr = dtype?.kind === 'call' && dtype.args.kind === 'tuple' && dtype.args.items[0]?.kind === 'str' ? dtype.args.items[0].value : undefined;
      const shape = field(target.state, 'shape');
      if (descr?.startsWith('O')) return disassemblePickle(bytes, at, ctx, options).end - at;
      const size = descr !== undefined ? itemSize(descr) : undefined;
      const dims = shape?.kind === 'tuple' ? shape.items.map((d) => (d.kind === 'int' ? d.value : NaN)) : [NaN];
      const count = dims.reduce((a, d) => a * d, 1);
      if (size === undefined || !Number.isFinite(count)) return undefined;
      const aligned = field(target.state, 'numpy_array_alignment_bytes')?.kind === 'int';
      const padding = aligned && at < bytes.length ? 1 + bytes[at]! : 0;
      return padding + count * size;
    },
  };
  return options;
}
