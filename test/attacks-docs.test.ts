import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { attacksMarkdown } from '../scripts/attacks-docs.mjs';
import { ATTACKS } from '../src/attacks/registry.js';
import { DEFENSES } from '../src/defenses/registry.js';
import * as options from '../src/options/schema.js';
import { autoattackVersions } from '../src/attacks/autoattack.js';

const attackTableMarkdown = () => attacksMarkdown({ attacks: ATTACKS, defenses: DEFENSES, autoattackVersions, options });

describe('docs/attacks.md', () => {
  it('is the table the registry renders (run npm run docs after changing an attack)', () => {
    expect(readFileSync('docs/attacks.md', 'utf8')).toBe(attackTableMarkdown());
  });
  it('lists every registered attack with its paper', () => {
    const md = attackTableMarkdown();
    for (const a of ATTACKS) {
      expect(md).toContain(`| \`${a.name}\` |`);
      expect(a.paper.length).toBeGreaterThan(10);
    }
  });
});
