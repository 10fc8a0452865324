// Writes docs/attacks.md from the attack registry (src/attacks/docs.ts). Run with `npm run docs` (builds first).
import { writeFileSync } from 'node:fs';
import { attackTableMarkdown } from '../dist/attacks/docs.js';

writeFileSync(new URL('../docs/attacks.md', import.meta.url), attackTableMarkdown());
console.log('wrote docs/attacks.md');

const { scanDocsMarkdown } = await import('../dist/scan/docs.js');
writeFileSync(new URL('../docs/scan.md', import.meta.url), scanDocsMarkdown());
console.log('wrote docs/scan.md');
