// Writes docs/attacks.md from the attack registry (src/attacks/docs.ts). Run with `npm run docs` (builds first).
import { writeFileSync } from 'node:fs';
import { attackTableMarkdown } from '../dist/attacks/docs.js';

writeFileSync(new URL('../docs/attacks.md', import.meta.url), attackTableMarkdown());
console.log('wrote docs/attacks.md');
