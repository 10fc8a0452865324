/**
 * Learning-rate schedules as values: a pure function of where training is (epoch, batch) gives the rate of
 * that step, so a resumed run uses exactly the rates an uninterrupted one would have.
 */
import { UsageError } from '../errors.js';

/**
 * - `constant`: the base rate throughout.
 * - `step`: the base rate times `factor` (default 0.1) once for every milestone epoch reached; default
 *   milestones ⌊epochs/2⌋ and ⌊3·epochs/4⌋ (the piecewise-constant decay of Madry et al. and of TRADES).
 * - `cosine`: base · ½(1 + cos(π t / epochs)) at t = epoch + batch/batches (Loshchilov & Hutter 2017, no restarts).
 * - `cyclic`: the one-cycle schedule of Wong, Rice & Kolter 2020: linear from 0 up to the base rate at 2/5 of
 *   training, then linear down to 0 at the end, at t = epoch + (batch + 1)/batches.
 */
export type LearningRateSchedule =
  | { kind: 'constant' }
  | { kind: 'step'; milestones?: number[]; factor?: number }
  | { kind: 'cosine' }
  | { kind: 'cyclic' };

/** Names a schedule can be given by. */
export const SCHEDULE_KINDS = ['constant', 'step', 'cosine', 'cyclic'] as const;

/** Where training is: 0-based epoch and batch, batches per epoch, epochs in all. */
export interface TrainingPosition {
  epoch: number;
  batch: number;
  batches: number;
  epochs: number;
}

/**
 * The learning rate of one step.
 * @example
 * learningRateAt({ kind: 'cyclic' }, 0.005, { epoch: 3, batch: 0, batches: 100, epochs: 10 }); // ≈ 0.0038
 */
export function learningRateAt(schedule: LearningRateSchedule, base: number, at: TrainingPosition): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'step': {
      const milestones = schedule.milestones ?? [Math.floor(at.epochs / 2), Math.floor((3 * at.epochs) / 4)];
      const passed = milestones.filter((m) => at.epoch >= m).length;
      return base * (schedule.factor ?? 0.1) ** passed;
    }
    case 'cosine': {
      const t = at.epoch + at.batch / at.batches;
      return 0.5 * base * (1 + Math.cos((Math.PI * t) / at.epochs));
    }
    case 'cyclic': {
      const t = at.epoch + (at.batch + 1) / at.batches;
      const peak = (2 * at.epochs) / 5;
      return t <= peak ? (base * t) / peak : Math.max(0, (base * (at.epochs - t)) / (at.epochs - peak));
    }
  }
}

/**
 * Parse `constant`, `step`, `step:<epoch>,<epoch>…` (milestones), `cosine` or `cyclic`.
 * @throws UsageError naming the choices.
 */
export function parseSchedule(text: string, flag = '--lr-schedule'): LearningRateSchedule {
  const [kind, rest] = text.split(':', 2) as [string, string | undefined];
  if (kind === 'step') {
    if (rest === undefined) return { kind: 'step' };
    const milestones = rest.split(',').map((s) => Number(s.trim()));
    if (rest.trim() === '' || milestones.some((m) => !Number.isInteger(m) || m < 1)) {
      throw new UsageError(`${flag}: step milestones must be epoch numbers ≥ 1, e.g. step:10,15; got "${text}"`);
    }
    return { kind: 'step', milestones };
  }
  if (rest === undefined && (kind === 'constant' || kind === 'cosine' || kind === 'cyclic')) return { kind };
  throw new UsageError(`${flag}: expected constant, step, step:<epoch>,<epoch>, cosine or cyclic; got "${text}"`);
}

/** The text form of a schedule (inverse of {@link parseSchedule}). */
export function scheduleName(schedule: LearningRateSchedule): string {
  if (schedule.kind === 'step' && schedule.milestones !== undefined) return `step:${schedule.milestones.join(',')}`;
  return schedule.kind;
}
