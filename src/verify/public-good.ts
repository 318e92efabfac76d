/**
 * The embedded Sigstore public-good (production) trusted root: the fallback
 * used when no trusted root is configured or the TUF refresh has not run yet
 * (design §3 "Trust material").
 *
 * It is not copied into this repository: @sigstore/tuf ships the TUF seed it
 * starts from as `seeds.json` (a published file of the package, listed in its
 * `files`), holding the production `root.json` and a cached copy of the
 * `trusted_root.json` target, base64-encoded. The package's integrity is
 * pinned by the npm lockfile, so upgrading @sigstore/tuf is what refreshes
 * the embedded root. There is no staging seed in the package, hence no
 * embedded staging root.
 */
import { createRequire } from 'node:module';
import { VerifyError } from './errors.js';
import { loadTrustedRoot, type LoadedTrustRoot } from './trust.js';
import { isJsonObject } from '../base/json.js';

/** The production TUF mirror, the key of the production entry in the seeds. */
export const publicGoodMirror = 'https://tuf-repo-cdn.sigstore.dev';

const seedsModule = '@sigstore/tuf/seeds.json';

function invalid(message: string, cause?: unknown): VerifyError {
  return new VerifyError('TrustRootInvalid', message, cause === undefined ? undefined : { cause });
}

function field(value: unknown, name: string): unknown {
  return isJsonObject(value) ? value[name] : undefined;
}

/**
 * Loads the public-good production trusted root embedded in @sigstore/tuf.
 * Synchronous and offline: `require` of a JSON file the package ships.
 * @throws VerifyError `TrustRootInvalid` if the seed is missing or malformed,
 *   or the root fails the strict checks of `loadTrustedRoot`.
 */
export function publicGoodTrustedRoot(): LoadedTrustRoot {
  let seeds: unknown;
  try {
    seeds = createRequire(import.meta.url)(seedsModule);
  } catch (error: unknown) {
    throw invalid(`cannot load ${seedsModule}`, error);
  }
  const encoded = field(field(field(seeds, publicGoodMirror), 'targets'), 'trusted_root.json');
  if (typeof encoded !== 'string') {
    throw invalid(`${seedsModule} has no trusted_root.json target for ${publicGoodMirror}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'));
  } catch (error: unknown) {
    throw invalid(`the trusted_root.json seeded for ${publicGoodMirror} is not JSON`, error);
  }
  return loadTrustedRoot(json);
}
