// Writes docs/attacks.md from the built registries (scripts/attacks-docs.mjs renders it). Run with `npm run docs`
// (builds first); test/attacks-docs.test.ts checks the committed file against the sources.
import { writeFileSync } from 'node:fs';
import { ATTACKS } from '../dist/attacks/registry.js';
import { DEFENSES } from '../dist/defenses/registry.js';
import * as options from '../dist/options/schema.js';
import { attacksMarkdown } from './attacks-docs.mjs';
import { autoattackVersions } from '../dist/attacks/autoattack.js';

writeFileSync(new URL('../docs/attacks.md', import.meta.url), attacksMarkdown({ attacks: ATTACKS, defenses: DEFENSES, autoattackVersions, options }));
console.log('wrote docs/attacks.md');

const { scanDocsMarkdown } = await import('../dist/scan/docs.js');
writeFileSync(new URL('../docs/scan.md', import.meta.url), scanDocsMarkdown());
console.log('wrote docs/scan.md');
