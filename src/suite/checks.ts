/**
 * Checks of the evaluation itself (Carlini et al. 2019, "On Evaluating Adversarial Robustness"; Athalye et
 * al. 2018, "Obfuscated Gradients Give a False Sense of Security"): signs that the numbers overstate
 * robustness because gradients are masked or the model is not what attacks assume. Each is reported by name
 * with status ok, warning or failed; a failed check makes the evaluation unreliable.
 */
import type { AttackOutcome, CheckOutcome, ProbeOutcomes, WorstCaseOutcome } from './types.js';
import { DRIFT_TOLERANCE } from './probes.js';

const SINGLE_STEP = new Set(['fgsm']);
const SCORE_BASED = new Set(['square']);
/** Full-range accuracy above chance by more than this is a failure. */
const CHANCE_MARGIN = 0.1;

const RANK = { ok: 0, warning: 1, failed: 2 } as const;
/** The more severe of two statuses. */
export const worse = (a: CheckOutcome['status'], b: CheckOutcome['status']): CheckOutcome['status'] => (RANK[a] >= RANK[b] ? a : b);

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

function probeRate(flags: number[]): { k: number; m: number } {
  let k = 0;
  let m = 0;
  for (const f of flags) if (f >= 0) (m++, (k += f));
  return { k, m };
}

/** Robust counts of one curve must not rise with eps: a rise of one example warns, more fails. */
function monotone(attacks: AttackOutcome[], worst: WorstCaseOutcome[]): CheckOutcome {
  const curves: { name: string; points: { eps: number; k: number }[] }[] = attacks.map((a) => ({
    name: a.id,
    points: a.results.filter((r) => r.eps !== null).map((r) => ({ eps: r.eps as number, k: r.robustAccuracy.k })),
  }));
  const norms = [...new Set(worst.map((w) => w.norm))];
  for (const n of norms) curves.push({ name: `worst@${n}`, points: worst.filter((w) => w.norm === n).map((w) => ({ eps: w.eps, k: w.robustAccuracy.k })) });
  let status: CheckOutcome['status'] = 'ok';
  const notes: string[] = [];
  for (const c of curves) {
    const pts = [...c.points].sort((a, b) => a.eps - b.eps);
    for (let i = 1; i < pts.length; i++) {
      const rise = pts[i]!.k - pts[i - 1]!.k;
      if (rise > 0) {
        notes.push(`${c.name} rises by ${rise} example(s) from eps ${pts[i - 1]!.eps} to ${pts[i]!.eps}`);
        status = worse(status, rise > 1 ? 'failed' : 'warning');
      }
    }
  }
  return {
    name: 'robust accuracy is non-increasing in eps',
    status,
    message: notes.length ? `${notes.join('; ')}: a stronger budget should never leave more points robust; suspect an attack that fails to converge` : 'every curve is non-increasing',
  };
}

function fullRange(probes: ProbeOutcomes, numClasses: number): CheckOutcome {
  const name = 'accuracy at eps = the full input range is near chance';
  const { k, m } = probeRate(probes.fullRangeBroken);
  if (m === 0) return { name, status: 'warning', message: 'not probed (no gradients, or no clean-correct probe example)' };
  const acc = (m - k) / m;
  const chance = 1 / numClasses;
  return acc <= chance + CHANCE_MARGIN
    ? { name, status: 'ok', message: `PGD at the full range leaves ${pct(acc)} of ${m} probed points robust (chance ${pct(chance)})` }
    : { name, status: 'failed', message: `PGD at the full range leaves ${pct(acc)} of ${m} probed points robust, far above chance (${pct(chance)}): an attacker who may change every pixel to anything should win; suspect gradient masking` };
}

/** At each (norm, eps), compare the robust count of one attack family with another's. */
function compareAttacks(
  name: string,
  attacks: AttackOutcome[],
  weaker: (a: AttackOutcome) => boolean,
  stronger: (a: AttackOutcome) => boolean,
  explain: string,
): CheckOutcome {
  let status: CheckOutcome['status'] = 'ok';
  const notes: string[] = [];
  let pairs = 0;
  for (const w of attacks.filter(weaker)) {
    for (const s of attacks.filter(stronger)) {
      if (s.norm !== w.norm) continue;
      for (const rw of w.results) {
        const rs = s.results.find((r) => r.eps !== null && r.eps === rw.eps);
        if (!rs) continue;
        pairs++;
        const excess = rs.robustAccuracy.k - rw.robustAccuracy.k;
        if (excess > 0) {
          notes.push(`${rs.key} leaves ${excess} more point(s) robust than ${rw.key}`);
          status = worse(status, excess > 1 ? 'failed' : 'warning');
        }
      }
    }
  }
  if (pairs === 0) return { name, status: 'ok', message: 'not applicable: the suite has no such pair of attacks at a shared eps' };
  return { name, status, message: notes.length ? `${notes.join('; ')}: ${explain}` : `holds at ${pairs} shared budget(s)` };
}

function gradients(probes: ProbeOutcomes): CheckOutcome {
  const name = 'gradients are finite and non-zero on most inputs';
  const finite = probeRate(probes.gradientFinite);
  const nonZero = probeRate(probes.gradientNonZero);
  if (finite.m === 0) return { name, status: 'warning', message: 'not probed: the model gives no gradients' };
  if (finite.k < finite.m) return { name, status: 'failed', message: `${finite.m - finite.k} of ${finite.m} probed inputs have NaN or infinite gradients: gradient attacks are blind there` };
  const share = nonZero.k / nonZero.m;
  if (share < 0.5) return { name, status: 'failed', message: `the gradient is exactly zero on ${pct(1 - share)} of probed inputs: gradients are masked (e.g. quantisation or a hard threshold); use BPDA or a score-based attack` };
  if (share < 0.9) return { name, status: 'warning', message: `the gradient is exactly zero on ${pct(1 - share)} of probed inputs` };
  return { name, status: 'ok', message: `finite and non-zero on ${nonZero.k} of ${nonZero.m} probed inputs` };
}

function deterministic(probes: ProbeOutcomes): CheckOutcome {
  const name = 'logits are identical for two identical calls';
  const { k, m } = probeRate(probes.deterministic);
  if (k < m) return { name, status: 'failed', message: `logits differ between two identical calls on ${m - k} of ${m} inputs: the model is randomised, so attack it with EOT (expectation over transformation)` };
  const drift = probes.logitDrift.reduce<number>((most, v) => Math.max(most, v ?? 0), 0);
  if (drift === 0) return { name, status: 'ok', message: `identical on ${m} probed inputs` };
  return { name, status: 'ok', message: `identical up to float rounding on ${m} probed inputs (largest relative change ${drift.toExponential(1)}, under ${DRIFT_TOLERANCE}): the backend sums in a varying order, the model is not randomised` };
}

function logits(probes: ProbeOutcomes): CheckOutcome {
  const name = 'outputs look like logits, not probabilities';
  const { k, m } = probeRate(probes.probabilityLike);
  return k * 2 <= m
    ? { name, status: 'ok', message: `outputs are not probability vectors on ${m - k} of ${m} probed inputs` }
    : { name, status: 'failed', message: `outputs look like probabilities on ${k} of ${m} inputs: losses on probabilities saturate and understate attacks; remove the final softmax (loadModel strips it when it can)` };
}

/** Every check, in report order. */
/**
 * A defended model attacked naively (`adaptive: false`) measures the defence's gradient obfuscation, not its
 * robustness (Athalye et al. 2018): the check fails, so the run is unreliable. No check without defences.
 */
export function adaptiveCheck(defenses: { names: string[]; adaptive: boolean | null }): CheckOutcome[] {
  if (defenses.names.length === 0) return [];
  const naive = defenses.adaptive === false;
  return [
    {
      name: 'defences are attacked adaptively',
      status: naive ? 'failed' : 'ok',
      message: naive
        ? 'the defences were attacked naively (adaptive: false), so robust accuracy overstates what an adaptive attacker meets; run with adaptive: true for a reliable number'
        : 'attacks used each defence\'s gradient policy (BPDA or EOT)',
    },
  ];
}

export function evaluationChecks(attacks: AttackOutcome[], worst: WorstCaseOutcome[], probes: ProbeOutcomes, numClasses: number): CheckOutcome[] {
  const gradientBased = (a: AttackOutcome) => !SCORE_BASED.has(a.name);
  return [
    monotone(attacks, worst),
    fullRange(probes, numClasses),
    compareAttacks(
      'iterative attacks are at least as strong as single-step ones',
      attacks,
      (a) => SINGLE_STEP.has(a.name),
      (a) => !SINGLE_STEP.has(a.name) && gradientBased(a) && a.kind === 'fixed-eps',
      'an iterative attack should never do worse than one step of the same gradient; suspect gradient masking or too few steps',
    ),
    compareAttacks(
      'the score-based Square attack is not stronger than the gradient attacks',
      attacks,
      (a) => gradientBased(a) && a.kind === 'fixed-eps',
      (a) => SCORE_BASED.has(a.name),
      'a gradient-free attack beating gradient attacks means the gradients mislead them; suspect gradient masking',
    ),
    gradients(probes),
    deterministic(probes),
    logits(probes),
  ];
}
