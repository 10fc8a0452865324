import type { AttackInfo } from '../src/attacks/core/types.js';
import type { DefenseInfo } from '../src/defenses/types.js';
import type { defaultText, expectedText, flagOf } from '../src/options/schema.js';
import type { autoattackVersions } from '../src/attacks/autoattack.js';

/** What the docs are rendered from: the registries and the option-schema helpers (from src/ or dist/). */
export interface DocsInput {
  attacks: readonly AttackInfo[];
  defenses: readonly DefenseInfo[];
  autoattackVersions: typeof autoattackVersions;
  options: { defaultText: typeof defaultText; expectedText: typeof expectedText; flagOf: typeof flagOf };
}

/** docs/attacks.md as the registries describe it. */
export function attacksMarkdown(input: DocsInput): string;
