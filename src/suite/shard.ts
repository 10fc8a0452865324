/** Shards of a suite run: `--shard i/n` runs the i-th of n contiguous, deterministic blocks of the examples. */
import { UsageError } from '../errors.js';

/** One shard of a run. */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** "2/4" → { index: 2, count: 4 }. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) throw new UsageError(`--shard: expected i/n with 1 <= i <= n (e.g. 1/4), got "${text}"`);
  return { index, count };
}

/** The positions (in the full selection of `total`) a shard covers: a contiguous, deterministic block. */
export function shardRange(total: number, shard: Shard | undefined): [number, number] {
  if (!shard) return [0, total];
  return [Math.floor(((shard.index - 1) * total) / shard.count), Math.floor((shard.index * total) / shard.count)];
}
