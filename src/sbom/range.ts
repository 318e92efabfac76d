/**
 * Version ranges of `sbom.deny.packages[].versions` (design.md §2), in two
 * spellings:
 *
 * - `vers:` URIs (package-url/vers-spec): `vers:maven/>=2.0.0|<2.17.1`,
 *   `vers:npm/1.2.3`, `vers:deb/*`. The `|`-separated constraints describe
 *   intervals and are evaluated with the spec's algorithm (below); the vers
 *   type, not the purl type, picks the ordering.
 * - the short style: `<2.17.1`, `>=2.0,<2.17.1`, `=1.2.3`, `!=1.0`, `*`.
 *   Commas join constraints that must all hold; `||` (or `|`) separates
 *   alternatives. The purl type picks the ordering.
 *
 * A type without a comparator (versions.ts) still supports `*`, `=` and `!=`
 * by exact string equality; anything needing an order is "unparseable".
 */
import type { Ordering, VersionComparator } from './version-order.js';
import { comparatorFor } from './versions.js';

/** A comparison operator; `=` is implied when a constraint has none. */
export type Operator = '=' | '!=' | '<' | '<=' | '>' | '>=';

export interface Constraint {
  readonly op: Operator;
  readonly version: string;
}

/**
 * A parsed range. `scheme` is the type whose ordering applies.
 * - `any`: `*`, every version (even an unparseable one);
 * - `vers`: constraints in ascending version order, vers-spec semantics;
 * - `anyOf`: alternatives, each a list of constraints that must all hold.
 */
export type Range =
  | { readonly kind: 'any' }
  | { readonly kind: 'vers'; readonly scheme: string; readonly constraints: readonly Constraint[] }
  | { readonly kind: 'anyOf'; readonly scheme: string; readonly groups: readonly (readonly Constraint[])[] };

const constraintPattern = /^(?<op>!=|<=|>=|<|>|=)?(?<version>[^<>=!|,\s]+)$/;

function parseConstraint(text: string, compare: VersionComparator | undefined): Constraint | undefined {
  const g = constraintPattern.exec(text.trim())?.groups;
  const version = g?.['version'];
  if (version === undefined) return undefined;
  const op = (g?.['op'] ?? '=') as Operator;
  if (compare === undefined) {
    // Without an order only equality can be evaluated; accept ordering operators
    // anyway so the policy reports "cannot evaluate" per version, not a broken spec.
    return { op, version };
  }
  // A bound that is not a version of its scheme can never be evaluated: reject the range.
  return compare(version, version) === undefined ? undefined : { op, version };
}

function parseVers(text: string): Range | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const scheme = text.slice('vers:'.length, slash).toLowerCase();
  const body = text.slice(slash + 1);
  if (!/^[a-z][a-z0-9.-]*$/.test(scheme) || body === '') return undefined;
  if (body === '*') return { kind: 'any' };
  const compare = comparatorFor(scheme);
  const constraints: Constraint[] = [];
  for (const part of body.split('|')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      // A malformed percent-escape is a malformed range, not an error to throw.
      return undefined;
    }
    const c = parseConstraint(decoded, compare);
    if (c === undefined) return undefined;
    constraints.push(c);
  }
  // The spec requires canonical (sorted) order; sorting here tolerates hand-written ranges.
  if (compare !== undefined) constraints.sort((a, b) => compare(a.version, b.version) ?? 0);
  return { kind: 'vers', scheme, constraints };
}

function parseShort(text: string, purlType: string): Range | undefined {
  if (text === '*') return { kind: 'any' };
  const scheme = purlType.toLowerCase();
  const compare = comparatorFor(scheme);
  const groups: Constraint[][] = [];
  for (const alternative of text.split(/\|\|?/)) {
    const group: Constraint[] = [];
    for (const part of alternative.split(',')) {
      const c = parseConstraint(part, compare);
      if (c === undefined) return undefined;
      group.push(c);
    }
    groups.push(group);
  }
  return { kind: 'anyOf', scheme, groups };
}

/**
 * Parses a range for packages of `purlType`. Returns `undefined` when the
 * text is not a range or a bound is not a version of the type's scheme (the
 * policy compiler reports that as an invalid spec). Never throws.
 */
export function parseRange(text: string, purlType: string): Range | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return trimmed.toLowerCase().startsWith('vers:') ? parseVers(trimmed) : parseShort(trimmed, purlType);
}

type Outcome = boolean | 'unparseable';

/** One constraint against a version; `undefined` when the order is unknown. */
function holds(c: Constraint, version: string, compare: VersionComparator | undefined): boolean | undefined {
  const r: Ordering | undefined = compare ? compare(version, c.version) : undefined;
  if (r === undefined) {
    if (compare !== undefined) return undefined;
    if (c.op === '=') return version === c.version;
    if (c.op === '!=') return version !== c.version;
    return undefined;
  }
  switch (c.op) {
    case '=':
      return r === 0;
    case '!=':
      return r !== 0;
    case '<':
      return r < 0;
    case '<=':
      return r <= 0;
    case '>':
      return r > 0;
    case '>=':
      return r >= 0;
  }
}

/** vers-spec "version containment" over sorted constraints. */
function versContains(
  constraints: readonly Constraint[],
  version: string,
  compare: VersionComparator | undefined,
): Outcome {
  for (const c of constraints) {
    if (c.op !== '=' && c.op !== '!=') continue;
    const h = holds(c, version, compare);
    if (h === undefined) return 'unparseable';
    if (c.op === '=' && h) return true;
    if (c.op === '!=' && !h) return false;
  }
  const bounds = constraints.filter((c) => c.op !== '=' && c.op !== '!=');
  if (bounds.length === 0) {
    // Only `!=` constraints left nothing excluded: the version is in. Only `=`: it matched none.
    return constraints.length > 0 && constraints.every((c) => c.op === '!=');
  }
  const isLower = (c: Constraint): boolean => c.op === '>' || c.op === '>=';
  for (let i = 0; i < bounds.length; i++) {
    const current = bounds[i];
    if (current === undefined) break;
    const next = bounds[i + 1];
    const inCurrent = holds(current, version, compare);
    if (inCurrent === undefined) return 'unparseable';
    // An open-ended interval at either end of the list.
    if (i === 0 && !isLower(current) && inCurrent) return true;
    if (next === undefined) {
      if (isLower(current) && inCurrent) return true;
      continue;
    }
    if (isLower(current) && !isLower(next)) {
      const inNext = holds(next, version, compare);
      if (inNext === undefined) return 'unparseable';
      if (inCurrent && inNext) return true;
    }
  }
  return false;
}

/**
 * Whether `version` lies in `range`: `true` (inside, e.g. denied), `false`
 * (outside), or `'unparseable'` when the version is not one of the range's
 * scheme or the scheme has no order and the range needs one. The policy maps
 * `'unparseable'` to `VersionUnparseable` unless `onUnparseableVersion: deny`.
 */
export function rangeContains(range: Range, version: string): Outcome {
  if (range.kind === 'any') return true;
  const compare = comparatorFor(range.scheme);
  if (compare?.(version, version) === undefined && compare !== undefined) return 'unparseable';
  if (range.kind === 'vers') return versContains(range.constraints, version, compare);
  let unknown = false;
  for (const group of range.groups) {
    const results = group.map((c) => holds(c, version, compare));
    if (results.includes(false)) continue;
    if (results.includes(undefined)) unknown = true;
    else return true;
  }
  return unknown ? 'unparseable' : false;
}
