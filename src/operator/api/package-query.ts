/**
 * A PackageQuery: "which running pods contain purl X in range R?", created
 * like a SubjectAccessReview and answered in its status. Its scope is what
 * the caller may `list imageverdicts` in: all namespaces (no
 * `spec.namespaces`) with that permission cluster-wide, or the namespaces
 * it names (at most `maxNamespaces`), each of which it must be allowed.
 * The reviews asked depend only on the request, never on where the package
 * runs: neither the answer, an error nor the time taken tells a team that
 * another team runs it.
 */
import { CliError } from '../../base/errors.js';
import type { PackageRule } from '../../sbom/query.js';
import { componentsView } from '../inventory/views.js';
import type { ComponentHit } from '../inventory/packages.js';

export type PackageHit = ComponentHit;

export interface PackageQuery {
  readonly spec: {
    readonly purl: string;
    readonly versions?: string;
    /** Absent: every namespace. */
    readonly namespaces?: readonly string[];
  };
  readonly rule: PackageRule;
}

/** The caller may not list imageverdicts where the query asks (a 403). */
export class PackageQueryForbidden extends Error {}

const maxPurlLength = 2_048;
const maxVersionsLength = 1_024;
export const maxNamespaces = 50;
const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const bad = (message: string): CliError => new CliError('UsageError', message);

/**
 * The request body, checked: a PackageQuery of this group with `spec.purl`
 * and optional `spec.versions`, nothing else in `spec`.
 * @throws SyntaxError (not JSON) or CliError (UsageError) with what is wrong
 */
export function readPackageQuery(
  body: string,
  rule: (purl: string, versions: string | undefined) => PackageRule,
): PackageQuery {
  const o: unknown = JSON.parse(body);
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw bad('the body is not a PackageQuery object');
  const { apiVersion, kind, spec } = o as Record<string, unknown>;
  if (kind !== 'PackageQuery' || apiVersion !== 'inventory.sigwatch.dev/v1alpha1')
    throw bad('the body must be kind PackageQuery, apiVersion inventory.sigwatch.dev/v1alpha1');
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw bad('spec is required');
  const { purl, versions, namespaces, ...rest } = spec as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw bad(`unknown field spec.${unknown[0] ?? ''}`);
  if (typeof purl !== 'string' || purl === '' || purl.length > maxPurlLength)
    throw bad(`spec.purl must be a package URL of at most ${String(maxPurlLength)} characters`);
  if (versions !== undefined && (typeof versions !== 'string' || versions.length > maxVersionsLength))
    throw bad(`spec.versions must be a range of at most ${String(maxVersionsLength)} characters`);
  if (
    namespaces !== undefined &&
    (!Array.isArray(namespaces) ||
      namespaces.length === 0 ||
      namespaces.length > maxNamespaces ||
      !namespaces.every((n) => typeof n === 'string' && dnsLabel.test(n)) ||
      new Set(namespaces).size !== namespaces.length)
  )
    throw bad(`spec.namespaces must be 1 to ${String(maxNamespaces)} distinct namespace names`);
  return {
    spec: {
      purl,
      ...(versions === undefined ? {} : { versions }),
      ...(namespaces === undefined ? {} : { namespaces: namespaces as string[] }),
    },
    rule: rule(purl, versions),
  };
}

/**
 * The status: matches in the query's scope, once `mayList` allowed all of
 * it ('' asks for all namespaces at once). Namespaces are asked about one at
 * a time, stopping at the first refusal; the pods are searched only then,
 * and only in the scope (`hitsIn`), so neither the reviews nor the time
 * taken depend on where else the package runs.
 * @throws PackageQueryForbidden naming what the caller may not list
 */
export async function answerPackageQuery(
  query: PackageQuery,
  hitsIn: (namespaces: ReadonlySet<string> | undefined) => readonly PackageHit[],
  mayList: (namespace: string) => Promise<boolean>,
): Promise<unknown> {
  const namespaces = query.spec.namespaces;
  if (namespaces === undefined) {
    if (!(await mayList('')))
      throw new PackageQueryForbidden(
        'listing imageverdicts in all namespaces is not allowed: name the namespaces to search (spec.namespaces, or sigwatch query -n)',
      );
    return componentsView(hitsIn(undefined));
  }
  for (const ns of namespaces)
    if (!(await mayList(ns)))
      throw new PackageQueryForbidden(`listing imageverdicts in the namespace "${ns}" is not allowed`);
  return componentsView(hitsIn(new Set(namespaces)));
}
