/**
 * Go module version ordering (golang.org/x/mod/semver) for `golang` purls.
 *
 * A Go module version is SemVer with a mandatory `v` prefix. Pseudo-versions
 * (`v0.0.0-20191109021931-daa7c04131f5`, `v1.2.4-0.20191109021931-daa7c04131f5`)
 * are ordinary pre-releases and so sort below the release they precede and
 * by commit time among themselves. `+incompatible` is build metadata and is
 * ignored for ordering, as the go command does.
 *
 * Not accepted: the `v1`/`v1.2` shorthands that x/mod/semver tolerates but
 * module versions never use, and versions without `v`.
 */
import type { Ordering } from './version-order.js';
import { compare as compareSemver } from './version-semver.js';

function strip(text: string): string | undefined {
  // `v` followed by a digit: rejects `vv1.0.0` and `=1.0.0`, which `semver` would accept.
  return /^v[0-9]/.test(text) ? text.slice(1) : undefined;
}

/** Compares two Go module versions; `undefined` when either is not one. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = strip(a);
  const y = strip(b);
  if (x === undefined || y === undefined) return undefined;
  return compareSemver(x, y);
}
