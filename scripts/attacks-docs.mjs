// The attack and defence tables of docs/attacks.md. Kept out of src/ so the library does not carry its own
// docs generator (and src/attacks need not import the defence registry); it takes the registries as input.
const cell = (v) => String(v).replace(/\|/g, '\\|');

/**
 * docs/attacks.md, rendered from the registries it is given: the built ones for `npm run docs`
 * (generate-docs.mjs), the sources in test/attacks-docs.test.ts, which checks the committed file.
 * @param {import('./attacks-docs.d.mts').DocsInput} input
 * @returns {string}
 */
export function attacksMarkdown({ attacks: ATTACKS, defenses: DEFENSES, autoattackVersions, options: { defaultText, expectedText, flagOf } }) {
  /** Each option's default as the tables list it, in the order the entry declares them (all from its schema). */
  const optionDefaults = (schema) => Object.entries(schema).flatMap(([key, spec]) => defaultText(key, spec) ?? []);

  const rows = ATTACKS.map((a) => {
    const defaults = [`norm ${JSON.stringify(a.norms[0])}`, ...optionDefaults(a.options)].join(', ');
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
    'model: gradients, scores (logits only) or decisions. What the minimum-norm attacks achieve with their defaults on',
    'the reference CNN, with the commands, is in [attack-strength.md](attack-strength.md).',
    '',
    '| name | attack | kind | norms | needs | targeted | defaults | paper |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '## Options',
    '',
    'Each option is declared once, in the attack\'s registry entry; the library checks it (`runAttack(model, data,',
    '{ name, eps, options })`), `robust attack` takes it as the flag shown, and a suite file as `options` of the attack.',
    '',
    '| attack | option | flag | value | default | what |',
    '|---|---|---|---|---|---|',
    ...ATTACKS.flatMap((a) =>
      Object.entries(a.options).map(([key, spec]) => {
        const fallback = defaultText(key, spec)?.slice(key.length + 1) ?? '-';
        return `| \`${a.name}\` | \`${key}\` | \`${flagOf(key, spec)}\` | ${cell(expectedText(spec))} | ${cell(fallback)} | ${cell(spec.doc)} |`;
      }),
    ),
    '',
    '## AutoAttack versions',
    '',
    'Pick one with `{ name: autoattack, options: { version: plus } }` in a suite file, `--aa-version plus` in',
    '`robust attack` (`--version` alone prints robust\'s own version), or `version` in the API;',
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
      const options = optionDefaults(d.options).join(', ');
      return `| \`${d.name}\` | ${cell(d.title)} | ${d.policy} | ${cell(options)} | ${cell(d.paper)} |`;
    }),
    '',
  ].join('\n');
}
