/**
 * SemVer 2.0.0 ordering for `npm` and `cargo` purls (and the `semver` vers
 * scheme), delegated to the `semver` package in strict mode.
 *
 * Handles: `MAJOR.MINOR.PATCH`, pre-releases (`1.0.0-rc.1 < 1.0.0`), numeric
 * vs alphanumeric pre-release identifiers, build metadata (ignored for order,
 * so `1.0.0+a` = `1.0.0+b`), a leading `v` or `=` that npm tolerates.
 * Rejects: partial versions (`1.2`), leading zeros (`01.2.3`), ranges.
 */
import semver from 'semver';
import type { Ordering } from './version-order.js';

function parse(text: string): semver.SemVer | undefined {
  // semver trims whitespace itself; a version with spaces is not one we accept.
  if (text !== text.trim()) return undefined;
  return semver.parse(text, { loose: false }) ?? undefined;
}

/** Compares two SemVer strings; `undefined` when either is not strict SemVer. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return undefined;
  return x.compare(y);
}
