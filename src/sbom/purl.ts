/**
 * Package URLs: parsing with `packageurl-js`, then the per-type normalisation
 * the purl spec requires, so two spellings of one package compare equal.
 *
 * packageurl-js decodes percent-escapes, lower-cases the type and applies
 * some type rules itself; we re-apply the rules Sigwatch matches on here,
 * idempotently, so matching does not depend on which rules a given library
 * version implements. Rules (purl-spec docs/types, formats.md §8):
 * - every type: the type is case-insensitive, canonical lower-case;
 * - `pypi`: name lower-cased and `_` → `-` (PEP 503 name normalisation);
 * - `deb`, `apk`, `alpm`: vendor namespace and name lower-cased;
 * - `github`, `bitbucket`: owner namespace and repository name lower-cased
 *   (both hosts treat them case-insensitively);
 * - `golang`: namespace and name lower-cased, as its definition says, even
 *   though module paths are case-sensitive on the proxy;
 * - `rpm`: namespace (vendor) lower-cased, name kept (RPM names are case-sensitive);
 * - `oci`: name lower-cased (registries require lower-case repositories);
 * - `npm`: formats.md §8 calls scope and name case-sensitive, but
 *   packageurl-js 2 lower-cases both while parsing and the original case is
 *   lost; rule and component purls go through the same parser, so matching
 *   stays consistent, and only legacy mixed-case names (`JSONStream`) could
 *   collide with a lower-case twin, which npm has refused to publish since 2017;
 * - `maven` (groupId/artifactId) and every other type: kept as written.
 */
import { PackageURL } from 'packageurl-js';

/** A parsed, normalised package URL; components are percent-decoded. */
export interface Purl {
  readonly type: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly version: string | undefined;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath: string | undefined;
}

const lowerNamespaceAndName = new Set(['deb', 'apk', 'alpm', 'github', 'bitbucket', 'golang']);

function normalize(p: Purl): Purl {
  const lower = (s: string | undefined): string | undefined => s?.toLowerCase();
  switch (p.type) {
    case 'pypi':
      return { ...p, name: p.name.toLowerCase().replaceAll('_', '-') };
    case 'rpm':
      return { ...p, namespace: lower(p.namespace) };
    case 'oci':
      return { ...p, name: p.name.toLowerCase() };
    default:
      return lowerNamespaceAndName.has(p.type)
        ? { ...p, namespace: lower(p.namespace), name: p.name.toLowerCase() }
        : p;
  }
}

const emptyToUndefined = (s: string | undefined | null): string | undefined =>
  s === undefined || s === null || s === '' ? undefined : s;

/**
 * Parses and normalises a package URL. Returns `undefined` for anything that
 * is not a valid purl (never throws): SBOMs carry malformed purls often
 * enough that one must not fail the whole document.
 */
export function parsePurl(text: string): Purl | undefined {
  let parsed: PackageURL;
  try {
    parsed = PackageURL.fromString(text.trim());
  } catch {
    // packageurl-js reports every defect as a thrown Error; here that only means "not a purl".
    return undefined;
  }
  if (parsed.name === '') return undefined;
  return normalize({
    type: parsed.type.toLowerCase(),
    namespace: emptyToUndefined(parsed.namespace),
    name: parsed.name,
    version: emptyToUndefined(parsed.version),
    qualifiers: { ...(parsed.qualifiers ?? {}) },
    subpath: emptyToUndefined(parsed.subpath),
  });
}

/**
 * The identity of a package without version, qualifiers or subpath:
 * `type/namespace/name` (`type//name` without namespace), components as
 * decoded after normalisation. Equal keys mean "the same package".
 */
export function purlKey(p: Purl): string {
  return `${p.type}/${p.namespace ?? ''}/${p.name}`;
}

/**
 * Whether a component is the package a deny rule names: same key, and every
 * qualifier the rule sets (e.g. `arch=amd64`) present with the same value.
 * Versions are not compared here: a rule's versions are a range (range.ts);
 * a rule purl that pins a version must be turned into a `=` range by the caller.
 */
export function matchesPackage(rulePurl: Purl, componentPurl: Purl): boolean {
  if (purlKey(rulePurl) !== purlKey(componentPurl)) return false;
  return Object.entries(rulePurl.qualifiers).every(([key, value]) => componentPurl.qualifiers[key] === value);
}
