import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The package version, read from package.json (one level above src/ and dist/). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/**
 * The installed version of package `name` as robust resolves it, or null when it is not installed (optional
 * backends may be absent).
 * @example installedVersion('@tensorflow/tfjs-core') // '4.22.0'
 */
export function installedVersion(name: string): string | null {
  try {
    return (createRequire(import.meta.url)(`${name}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}
