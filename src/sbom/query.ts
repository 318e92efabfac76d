/**
 * "Does this SBOM contain package X (in version range R)?" — the offline half
 * of the inventory question. Pure: the caller parses the SBOM and the rule.
 */
import { CliError } from '../base/errors.js';
import type { NormalisedSbom, SbomComponent } from './model.js';
import { matchesPackage, parsePurl, type Purl } from './purl.js';
import { parseRange, rangeContains, type Range } from './range.js';

export interface PackageRule {
  readonly purl: Purl;
  /** Absent: any version matches. */
  readonly range?: Range;
}

export interface PackageMatch {
  readonly component: SbomComponent;
  /** The version compared: the purl's, else the component's `version` field. */
  readonly version?: string;
  /** `unparseable`: the component's version cannot be compared in this ecosystem. */
  readonly inRange: boolean | 'unparseable';
}

/**
 * Components whose purl names the rule's package (type, namespace, name and
 * the rule's qualifiers), with whether their version is in the range.
 * Components without a purl, or with one that does not parse, never match:
 * names alone are too ambiguous across ecosystems.
 */
export function findPackage(sbom: NormalisedSbom, rule: PackageRule): PackageMatch[] {
  return matchComponents(sbom.components, rule);
}

/** findPackage over a list of candidate components (e.g. those an index found by package key). */
export function matchComponents(components: readonly SbomComponent[], rule: PackageRule): PackageMatch[] {
  const matches: PackageMatch[] = [];
  for (const component of components) {
    const purl = component.purl === undefined ? undefined : parsePurl(component.purl);
    if (purl === undefined || !matchesPackage(rule.purl, purl)) continue;
    const version = purl.version ?? component.version;
    let inRange: PackageMatch['inRange'] = true;
    if (rule.range !== undefined) {
      inRange = version === undefined ? 'unparseable' : rangeContains(rule.range, version);
    }
    matches.push({ component, inRange, ...(version === undefined ? {} : { version }) });
  }
  return matches;
}

/**
 * The rule for "package PURL, versions RANGE" as users type it (`sigwatch
 * query`, PackageQuery): a version inside the purl means exactly that
 * version. Throws CliError `UsageError` for a purl or range that does not parse.
 */
export function parsePackageRule(purlText: string, versions: string | undefined): PackageRule {
  const purl = parsePurl(purlText);
  if (purl === undefined) throw new CliError('UsageError', `not a package URL: ${purlText}`);
  const rangeText = versions ?? (purl.version === undefined ? undefined : `=${purl.version}`);
  if (rangeText === undefined) return { purl: { ...purl, version: undefined } };
  const range = parseRange(rangeText, purl.type);
  if (range === undefined)
    throw new CliError('UsageError', `not a version range for ${purl.type}: ${rangeText}`);
  return { purl: { ...purl, version: undefined }, range };
}
