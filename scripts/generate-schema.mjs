// Writes schema/robust.config.schema.json from the code (src/suite/schema.ts), so the published schema
// never drifts from the registries. Run with `npm run schema` (builds first); test/suite.test.ts checks it.
import { writeFileSync } from 'node:fs';
import { configSchema } from '../dist/suite/schema.js';

writeFileSync(new URL('../schema/robust.config.schema.json', import.meta.url), `${JSON.stringify(configSchema(), null, 2)}\n`);
console.log('wrote schema/robust.config.schema.json');
