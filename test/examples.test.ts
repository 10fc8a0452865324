import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/suite/config.js';
import { loadModel } from '../src/models/load.js';
import { activate } from './helpers/backends.js';

/**
 * Every shipped example suite is valid against the schema and pins the model that is shipped: a retrained
 * model without an updated pin (or a typo in a suite) fails here, not in a user's CI.
 */
const EXAMPLES = 'examples';
const suites = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join(EXAMPLES, d.name)).filter((f) => /\.config\.(json|ya?ml)$/.test(f)).map((f) => join(EXAMPLES, d.name, f)));

describe('example suites', () => {
  it('there are at least the two MNIST suites (undefended and adversarially trained) and the tabular one', () => {
    expect(suites).toEqual(expect.arrayContaining(['examples/mnist/robust.config.json', 'examples/mnist/robust-at.config.json', 'examples/tabular/robust.config.json']));
  });

  it.each(suites)('%s parses and its pinned SHA-256 is the shipped model', async (path) => {
    await activate('cpu');
    const { config } = await loadConfig(path);
    expect(config.attacks.length).toBeGreaterThan(0);
    const model = await loadModel(config.model.path);
    try {
      if (config.model.sha256) expect(model.sha256).toBe(config.model.sha256);
    } finally {
      model.dispose();
    }
  });
});
