import cliProgress from 'cli-progress';
import type { Io } from './io.js';

/** A progress sink for long work: a cli-progress bar on a TTY, plain periodic lines in CI, nothing with --quiet. */
export interface Progress {
  update(done: number, extra?: string): void;
  stop(): void;
}

export function makeProgress(io: Io, label: string, total: number, quiet = false): Progress {
  if (quiet || total <= 0) return { update: () => undefined, stop: () => undefined };
  if (io.interactive) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {extra} eta {eta_formatted}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { extra: '' });
    return { update: (done, extra = '') => bar.update(done, { extra }), stop: () => bar.stop() };
  }
  // Plain lines: at most one per 10% of the work or per 10 seconds, whichever comes first, and the last.
  let lastShown = -1;
  let lastTime = 0;
  const started = Date.now();
  return {
    update(done, extra = '') {
      const now = Date.now();
      const step = Math.floor((10 * done) / total);
      if (done < total && step === lastShown && now - lastTime < 10_000) return;
      lastShown = step;
      lastTime = now;
      const secs = ((now - started) / 1000).toFixed(1);
      io.err(`${label}: ${done}/${total}${extra ? ` ${extra}` : ''} (${secs}s)`);
    },
    stop: () => undefined,
  };
}
