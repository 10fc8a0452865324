/**
 * The attack and defence tables of docs/attacks.md, rendered from the registries so the docs cannot drift from the code
 * (`npm run docs` writes it; test/attacks-docs.test.ts checks the committed file).
 */
import { autoattackVersions } from './autoattack.js';
import { ATTACKS } from './registry.js';
import { DEFENSES } from '../defenses/registry.js';

const cell = (v: unknown): string => String(v).replace(/\|/g, '\\|');

export function attackTableMarkdown(): string {
  const rows = ATTACKS.map((a) => {
    const defaults = [
      ...Object.entries(a.defaults).map(([k, v]) => `${k} ${JSON.stringify(v)}`),
      ...Object.entries(a.computedDefaults ?? {}).map(([k, rule]) => `${k} ${rule}`),
    ].join(', ');
    return `| \`${a.name}\` | ${cell(a.title)} | ${a.kind} | ${a.norms.join(', ')} | ${a.needs} | ${a.targeted ? 'yes' : 'no'} | ${cell(defaults)} | ${cell(a.paper)} |`;
  });
  return [
    '# Attacks',
    '',
    'Generated from `src/attacks/registry.ts` by `npm run docs`; do not edit by hand.',
    '',
    'Every attack is a function `(model, x, y, options) → AttackResult` (`xAdv`, `isAdversarial`, per-example',
    '`perturbation` {linf, l2, l0}, `gradientEvaluations`, `queries`), importable from `robust` and runnable with',
    '`robust attack --attack <name>`. The first norm listed is the default. *needs* is what the attack asks of the',
    'model: gradients, scores (logits only) or decisions.',
    '',
    '| name | attack | kind | norms | needs | targeted | defaults | paper |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '## AutoAttack versions',
    '',
    'Pick one with `{ name: autoattack, options: { version: plus } }` in a suite file (or `version` in the API);',
    'reports label the attack with it, e.g. `autoattack@linf (standard)`, and its JSON `params` carry it. Each',
    'component runs only on the points the earlier ones left robust. `steps`, `restarts`, `targetClasses` and',
    '`queries` override the budget of every component that has that option.',
    '',
    '| version | components, in order (options) | EOT passes per logit |',
    '|---|---|---|',
    ...Object.entries(autoattackVersions()).map(([version, v]) => {
      const parts = v.components.map((c) => `\`${c.name}\` (${Object.entries(c.options).map(([k, x]) => `${k} ${JSON.stringify(x)}`).join(', ')})`);
      return `| \`${version}\` | ${cell(parts.join(', '))} | ${v.eotIterations} |`;
    }),
    '',
    '## Defences',
    '',
    'Input-transform defences wrap a model (`withDefenses(model, [{ name, ...options }])`, or `defenses:` in a suite',
    'file). Each declares how attacks get a gradient through it: *exact*, *bpda* (the real transform forward, an',
    'identity or smooth approximation backward) or *eot* (the average over random draws). Attacks use that policy',
    'unless `--adaptive false` asks for the naive, fooled number.',
    '',
    '| name | defence | gradient policy | options (defaults) | paper |',
    '|---|---|---|---|---|',
    ...DEFENSES.map((d) => {
      const options = Object.entries(d.defaults as Record<string, unknown>)
        .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
        .join(', ');
      return `| \`${d.name}\` | ${cell(d.title)} | ${d.policy} | ${cell(options)} | ${cell(d.paper)} |`;
    }),
    '',
  ].join('\n');
}
