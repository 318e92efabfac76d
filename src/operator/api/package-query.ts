/**
 * A PackageQuery: "which running pods contain purl X in range R?", created
 * like a SubjectAccessReview and answered in its status. The answer covers
 * the namespaces where the caller may `list imageverdicts`: everything with
 * that permission cluster-wide, otherwise each namespace with a match is
 * asked about (at most `maxNamespaces`, a few at a time) and the others are
 * left out without a trace — a team sees its own pods, never that another
 * team runs the package.
 */
import pLimit from 'p-limit';
import { CliError } from '../../base/errors.js';
import type { PackageRule } from '../../sbom/query.js';
import { componentsView } from '../inventory-views.js';
import type { ComponentHit } from '../inventory.js';

export type PackageHit = ComponentHit;

export interface PackageQuery {
  readonly spec: { readonly purl: string; readonly versions?: string };
  readonly rule: PackageRule;
}

const maxPurlLength = 2_048;
const maxVersionsLength = 1_024;
const maxNamespaces = 1_000;

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
  const { purl, versions, ...rest } = spec as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw bad(`unknown field spec.${unknown[0] ?? ''}`);
  if (typeof purl !== 'string' || purl === '' || purl.length > maxPurlLength)
    throw bad(`spec.purl must be a package URL of at most ${String(maxPurlLength)} characters`);
  if (versions !== undefined && (typeof versions !== 'string' || versions.length > maxVersionsLength))
    throw bad(`spec.versions must be a range of at most ${String(maxVersionsLength)} characters`);
  return {
    spec: { purl, ...(versions === undefined ? {} : { versions }) },
    rule: rule(purl, versions),
  };
}

/** The status: matches in the namespaces `mayList` allows ('' asks for all namespaces at once). */
export async function answerPackageQuery(
  hits: readonly PackageHit[],
  mayList: (namespace: string) => Promise<boolean>,
): Promise<unknown> {
  if (await mayList('')) return componentsView(hits);
  const namespaces = [...new Set(hits.map((h) => h.namespace))].sort();
  if (namespaces.length > maxNamespaces)
    throw bad(
      `the package runs in ${String(namespaces.length)} namespaces, more than the ${String(maxNamespaces)} checked one by one; ask with permission to list imageverdicts in all namespaces`,
    );
  const limit = pLimit(8);
  const allowed = new Set<string>();
  await Promise.all(
    namespaces.map((ns) =>
      limit(async () => {
        if (await mayList(ns)) allowed.add(ns);
      }),
    ),
  );
  return componentsView(hits.filter((h) => allowed.has(h.namespace)));
}
