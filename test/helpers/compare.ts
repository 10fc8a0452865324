/** max |a − b| / max(|a|, |b|): the largest difference relative to the largest magnitude (Infinity on NaN). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs((a[i] as number) - (b[i] as number)));
    scale = Math.max(scale, Math.abs(a[i] as number), Math.abs(b[i] as number));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}
