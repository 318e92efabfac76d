/**
 * Chooses the version ordering of a purl (or `vers:`) type.
 *
 * | type                    | scheme                      |
 * |-------------------------|-----------------------------|
 * | maven                   | Maven ComparableVersion     |
 * | pypi                    | PEP 440                     |
 * | npm, cargo, semver      | SemVer 2.0.0                |
 * | golang                  | Go module semver (`v…`)     |
 * | deb                     | dpkg                        |
 * | rpm                     | rpmvercmp                   |
 * | apk                     | apk-tools                   |
 *
 * Every other type (`generic`, `oci`, `gem`, …) has no ordering here: the vers
 * spec leaves `generic` unspecified and guessing an order would turn a wrong
 * guess into a wrong verdict, so callers get `undefined` and may only test
 * exact equality (formats.md §8).
 */
import { compare as apk } from './version-apk.js';
import { compare as deb } from './version-deb.js';
import { compare as golang } from './version-golang.js';
import { compare as maven } from './version-maven.js';
import type { Ordering, VersionComparator } from './version-order.js';
import { compare as pypi } from './version-pypi.js';
import { compare as rpm } from './version-rpm.js';
import { compare as semver } from './version-semver.js';

const comparators: ReadonlyMap<string, VersionComparator> = new Map([
  ['maven', maven],
  ['pypi', pypi],
  ['npm', semver],
  ['cargo', semver],
  ['semver', semver],
  ['golang', golang],
  ['deb', deb],
  ['rpm', rpm],
  ['apk', apk],
]);

/** The comparator for a purl type (case-insensitive), or `undefined` when Sigwatch has none. */
export function comparatorFor(purlType: string): VersionComparator | undefined {
  return comparators.get(purlType.toLowerCase());
}

/**
 * Compares two versions of one purl type. `undefined` when the type has no
 * comparator or either string is not a version of its scheme.
 */
export function compareVersions(purlType: string, a: string, b: string): Ordering | undefined {
  return comparatorFor(purlType)?.(a, b);
}
