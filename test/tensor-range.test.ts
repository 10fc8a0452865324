import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { boundsRange, extremes, maxOf, minOf } from '../src/tensor/range.js';
import { fullRange } from '../src/suite/probes.js';
import type { Model } from '../src/models/types.js';

// Per-feature bounds of a 224×224×3 image have 150,528 values; spreading such arrays into Math.min overflows
// the call stack (RangeError) on Node somewhere past 10^5 elements, which is why robust reduces with a loop.
const FEATURES = 224 * 224 * 3;
const lows = Float32Array.from({ length: FEATURES }, (_, i) => -1 - (i === 77_777 ? 0.5 : (i % 7) / 100));
const highs = Array.from({ length: FEATURES }, (_, i) => 1 + (i === 123_456 ? 2 : (i % 5) / 100));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('tensor/range: extremes without spreading arrays into a call', () => {
  it('the spread this replaces does overflow at this size, and the loop gives the right extremes', () => {
    expect(() => Math.min(...Array.from({ length: 2_000_000 }, () => 0))).toThrow(RangeError);
    expect(minOf(lows)).toBeCloseTo(-1.5, 6);
    expect(maxOf(highs)).toBe(3);
    expect(extremes(highs)).toEqual([1, 3]);
    expect(extremes(0.5)).toEqual([0.5, 0.5]);
    expect([minOf([]), maxOf([])]).toEqual([Infinity, -Infinity]);
    expect(boundsRange({ min: lows, max: 2 })).toEqual({ min: minOf(lows), max: 2 });
  });

  it('a model with per-feature bounds of an ImageNet-sized input has a full range', () => {
    const model = { bounds: { min: Array.from(lows), max: highs } } as unknown as Model;
    expect(fullRange(model)).toBeCloseTo(4.5, 6);
  });

  it('no source file spreads an array into Math.min or Math.max', () => {
    const offenders = sourceFiles('src').filter((f) => /Math\.(min|max)\(\s*\.\.\./.test(readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')));
    expect(offenders).toEqual([]);
  });
});
