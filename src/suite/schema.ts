/**
 * The JSON Schema of `robust.config.json` / `.yaml`, built from the registries (attack names, norms,
 * backends), so the published `schema/robust.config.schema.json` never drifts from the code:
 * `test/suite-config.test.ts` checks the published file equals `configSchema()`.
 *
 * `x-expected` on a node is the phrase validation errors use ("expected <x-expected>, got ...").
 */
import { ATTACKS, attackNames } from '../attacks/registry.js';
import { NORM_NAMES } from '../attacks/core/norms.js';
import type { AttackInfo } from '../attacks/core/types.js';
import { BACKEND_NAMES } from '../backends/index.js';
import { DEFENSES, defenseNames } from '../defenses/registry.js';
import type { DefenseInfo } from '../defenses/types.js';
import { schemaProperties } from '../options/schema.js';
import { COUNT_LIMITS } from '../util/limits.js';
import { OUTPUT_MODES } from '../models/binary.js';

type Json = Record<string, unknown>;

/** A whole number from `min` to the documented maximum of `name` (see src/util/limits.ts). */
const count = (name: keyof typeof COUNT_LIMITS, min = 1): Json => ({
  type: 'integer',
  minimum: min,
  maximum: COUNT_LIMITS[name],
  'x-expected': `a whole number from ${min} to ${COUNT_LIMITS[name]}`,
});

const positive: Json = { type: 'number', exclusiveMinimum: 0, 'x-expected': 'a number > 0' };
const fraction: Json = { type: 'number', minimum: 0, maximum: 1, 'x-expected': 'a number in [0, 1]' };
const featureRef: Json = { type: ['string', 'integer'], 'x-expected': 'a feature name or index' };
const numberOrList = (what: string): Json => ({
  oneOf: [{ type: 'number' }, { type: 'array', items: { type: 'number' }, minItems: 1 }],
  'x-expected': what,
});

/**
 * One entry of `attacks`: its name, norms and options are those of the registry entry, so an editor
 * completes them and a misspelt option is refused. `x-owner` names whose options these are in messages.
 */
function attackEntry(info: AttackInfo): Json {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    'x-expected': `an object {name: "${info.name}", norm?, eps?, options?}`,
    properties: {
      name: { const: info.name },
      norm: { enum: [...info.norms], 'x-expected': `one of ${info.norms.join(', ')}` },
      eps: {
        oneOf: [positive, { type: 'array', items: positive, minItems: 1 }],
        'x-expected': 'a number or list of numbers > 0',
      },
      options: {
        type: 'object',
        additionalProperties: false,
        properties: schemaProperties(info.options),
        'x-owner': info.name,
        'x-expected': 'an object',
      },
    },
  };
}

/** One entry of `defenses`: the name and the options of that defence, flat. */
function defenseEntry(info: DefenseInfo): Json {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    'x-owner': info.name,
    'x-expected': `an object {name: "${info.name}", ...its options}`,
    properties: { name: { const: info.name }, ...schemaProperties(info.options) },
  };
}

/**
 * A list whose items are one of `entries`, chosen by their `name` (the `discriminator` lets a validator
 * report the errors of the matching entry alone; editors read the plain `oneOf`).
 */
function byName(names: string[], entries: Json[], expected: string): Json {
  return {
    type: 'object',
    required: ['name'],
    discriminator: { propertyName: 'name' },
    oneOf: entries,
    'x-names': names,
    'x-expected': expected,
  };
}

export function configSchema(): Json {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/robust-ml/robust/schema/robust.config.schema.json',
    title: 'robust test suite',
    description: 'A robustness suite for `robust test`: a model, data, attacks, thresholds and outputs.',
    type: 'object',
    additionalProperties: false,
    required: ['model', 'data', 'attacks'],
    properties: {
      $schema: { type: 'string' },
      model: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        'x-expected': 'an object with a path',
        properties: {
          path: { type: 'string', minLength: 1, description: 'model.json (or its folder), relative to this file', 'x-expected': 'a path' },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'pin: the run fails (exit 1) if the model files hash differently', 'x-expected': 'a 64-digit lowercase hex SHA-256' },
          bounds: {
            type: 'object',
            additionalProperties: false,
            required: ['min', 'max'],
            properties: { min: numberOrList('a number or one number per feature'), max: numberOrList('a number or one number per feature') },
            'x-expected': 'an object {min, max}',
          },
          normalization: {
            type: 'object',
            additionalProperties: false,
            required: ['mean', 'std'],
            properties: { mean: numberOrList('a number or one per channel'), std: numberOrList('a number or one per channel') },
            'x-expected': 'an object {mean, std}',
          },
          output: {
            enum: [...OUTPUT_MODES],
            description: "what the model's output holds: auto (guess), sigmoid or logit (one output unit: a binary classifier), softmax or logits",
            'x-expected': `one of ${OUTPUT_MODES.join(', ')}`,
          },
        },
      },
      features: {
        type: 'object',
        additionalProperties: false,
        description: 'tabular threat model: features named by CSV column or index',
        'x-expected': 'an object {bounds?, immutable?, integer?, oneHot?, scale?}',
        properties: {
          bounds: {
            type: 'object',
            additionalProperties: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2, 'x-expected': '[min, max]' },
            description: "per-feature [min, max] in the feature's own units, over model.bounds",
            'x-expected': 'an object such as {"amount": [0, 5000]}',
          },
          immutable: { type: 'array', items: featureRef, description: 'features attacks may not change', 'x-expected': 'a list of feature names or indices' },
          integer: { type: 'array', items: featureRef, description: 'features that take whole values; results are rounded towards the clean value', 'x-expected': 'a list of feature names or indices' },
          oneHot: {
            type: 'array',
            items: { type: 'array', items: featureRef, minItems: 2, 'x-expected': 'a list of 2 or more features' },
            description: 'groups of features encoding one category one-hot; results stay one-hot',
            'x-expected': 'a list of feature groups such as [["web", "app", "pos"]]',
          },
          scale: {
            type: 'object',
            additionalProperties: { ...positive, 'x-expected': 'a number > 0' },
            description: "per-feature unit of eps (default 1): eps 1 moves each feature by up to one of its units",
            'x-expected': 'an object such as {"amount": 100}',
          },
        },
      },
      data: {
        type: 'object',
        additionalProperties: false,
        required: ['source'],
        'x-expected': 'an object with a source',
        properties: {
          source: {
            oneOf: [{ type: 'string', minLength: 1 }, { type: 'object' }],
            description: 'mnist:test, npy:<x>,<y>, images:<dir>, csv:<file>, or an object such as {x, y}',
            'x-expected': 'a data source string (e.g. "mnist:test") or object',
          },
          n: count('n'),
          offset: count('offset', 0),
          sample: { enum: ['first', 'random'], 'x-expected': '"first" or "random"' },
          seed: { type: ['string', 'integer'], 'x-expected': 'a string or whole number' },
        },
      },
      backend: { enum: ['auto', ...BACKEND_NAMES], 'x-expected': `one of auto, ${BACKEND_NAMES.join(', ')}` },
      seed: { type: ['string', 'integer'], 'x-expected': 'a string or whole number' },
      batchSize: count('batchSize'),
      attacks: {
        type: 'array',
        minItems: 1,
        'x-expected': 'a non-empty list of attacks',
        items: byName(attackNames(), ATTACKS.map(attackEntry), 'an object {name, norm?, eps?, options?}'),
      },
      defenses: {
        type: 'array',
        description: 'input-transform defences in front of the model, applied in order',
        'x-expected': 'a list of defences such as [{"name": "median", "size": 3}]',
        items: byName(defenseNames(), DEFENSES.map(defenseEntry), 'an object {name, ...options}'),
      },
      adaptive: {
        type: 'boolean',
        description: "attack through each defence's gradient policy (BPDA, EOT); false shows the naive number",
        'x-expected': 'true or false',
      },
      certify: {
        type: 'object',
        additionalProperties: false,
        required: ['sigma'],
        description: 'randomised-smoothing certification (Cohen et al. 2019) of the suite\'s examples; off when absent',
        'x-expected': 'an object {sigma, n0?, samples?, alpha?, batchSize?, radii?}',
        properties: {
          sigma: { ...positive, description: 'noise standard deviation in input units', 'x-expected': 'a number > 0' },
          n0: { ...count('n0'), description: 'noise draws that select the class (default 100)' },
          samples: { ...count('samples'), description: 'noise draws that estimate its probability (default 1000; Cohen et al. use 100000)' },
          alpha: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 0.5, description: 'failure probability of each certificate (default 0.001)', 'x-expected': 'a number in (0, 0.5)' },
          batchSize: { ...count('batchSize'), description: 'noisy copies per forward pass (default 1000)' },
          radii: {
            type: 'array',
            minItems: 1,
            items: { type: 'number', minimum: 0 },
            description: 'L2 radii at which to report certified accuracy (default 0, 0.25, ..., 1.5)',
            'x-expected': 'a non-empty list of numbers >= 0',
          },
        },
      },
      thresholds: {
        type: 'object',
        additionalProperties: false,
        'x-expected': 'an object {cleanAccuracy?, robustAccuracy?, score?, certifiedAccuracy?, minClassRobustAccuracy?, minSliceRobustAccuracy?}',
        properties: {
          cleanAccuracy: fraction,
          robustAccuracy: {
            type: 'object',
            description: 'keys "<attack>@<norm>:<eps>" or "worst@<norm>:<eps>", values the least robust accuracy allowed',
            additionalProperties: fraction,
            'x-expected': 'an object such as {"pgd@linf:0.1": 0.9}',
          },
          score: {
            oneOf: [
              { type: 'number', minimum: 0, maximum: 100 },
              { type: 'object', additionalProperties: false, properties: Object.fromEntries(NORM_NAMES.map((n) => [n, { type: 'number', minimum: 0, maximum: 100 }])) },
            ],
            'x-expected': `a number in [0, 100] or {${NORM_NAMES.map((n) => `${n}?`).join(', ')}}`,
          },
          certifiedAccuracy: {
            type: 'object',
            description: 'keys an L2 radius such as "0.5", values the least certified accuracy allowed there (needs certify)',
            additionalProperties: fraction,
            'x-expected': 'an object such as {"0.5": 0.6}',
          },
          minClassRobustAccuracy: {
            oneOf: [fraction, { type: 'object', additionalProperties: fraction }],
            description: 'least robust accuracy of the weakest true class: a number (at the key perClass.key names) or {"<key>": number}',
            'x-expected': 'a number in [0, 1] or an object such as {"worst@linf:0.3": 0.7}',
          },
          minSliceRobustAccuracy: {
            oneOf: [fraction, { type: 'object', additionalProperties: fraction }],
            description: 'least robust accuracy of the weakest slice of the data\'s group column: a number or {"<key>": number}',
            'x-expected': 'a number in [0, 1] or an object such as {"worst@linf:0.3": 0.7}',
          },
        },
      },
      outputs: {
        type: 'object',
        additionalProperties: false,
        'x-expected': 'an object {json?, junit?, markdown?, html?, cyclonedx?}',
        properties: Object.fromEntries(['json', 'junit', 'markdown', 'html', 'cyclonedx'].map((k) => [k, { type: 'string', minLength: 1, 'x-expected': 'a file path' }])),
      },
      perExample: { type: 'boolean', description: 'include per-example outcomes in the JSON', 'x-expected': 'true or false' },
      allowUnreliable: {
        type: 'boolean',
        description: 'exit 0 (with a warning) instead of 3 when an evaluation check fails and every threshold is met (same as --allow-unreliable)',
        'x-expected': 'true or false',
      },
      samples: { type: 'integer', minimum: 0, maximum: 64, description: 'examples shown in the HTML image grid', 'x-expected': 'a whole number in [0, 64]' },
    },
  };
}
