/**
 * SLSA provenance (v0.2 and v1, formats.md §6) read from a verified in-toto
 * statement, and the policy comparison over it. Pure; the statement must
 * already be verified (attestations.ts), this module only reads it.
 */
import type { InTotoStatement } from './legacy-attestation.js';
import type { IdentityMatcher } from './identity.js';
import { describeMatcher, matchesIdentity } from './identity.js';

export const slsaProvenanceV02 = 'https://slsa.dev/provenance/v0.2';
export const slsaProvenanceV1 = 'https://slsa.dev/provenance/v1';

/** The policy-relevant fields of a provenance predicate; absent when the predicate lacks them. */
export interface Provenance {
  readonly version: 'v0.2' | 'v1';
  readonly builderId: string | undefined;
  readonly buildType: string | undefined;
  /** Normalised (see normaliseSourceUri), deduplicated, in document order. */
  readonly sourceRepositories: readonly string[];
}

/** What a policy requires of the provenance; every given field must hold. */
export interface ProvenanceRequirement {
  readonly builderIdRegExp?: IdentityMatcher;
  readonly sourceRepositories?: readonly string[];
  readonly buildType?: string;
}

export interface ProvenanceMismatch {
  readonly reason: 'ProvenanceMismatch';
  /** One line for humans; tests assert `reason`. */
  readonly message: string;
}

type Json = Readonly<Record<string, unknown>>;

function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function uris(list: unknown): string[] {
  return Array.isArray(list) ? list.flatMap((m) => str(obj(m)?.['uri']) ?? []) : [];
}

/**
 * Drops the ref or revision (`@…`) and a trailing `.git` or `/`, so that
 * `git+https://github.com/o/r@refs/heads/main` compares equal to
 * `git+https://github.com/o/r`. Only the part after the last `/` is searched
 * for `@`, so user info in the authority is left alone.
 */
export function normaliseSourceUri(uri: string): string {
  let u = uri.trim();
  const slash = u.lastIndexOf('/');
  const at = u.indexOf('@', slash + 1);
  if (at >= 0) u = u.slice(0, at);
  // A ref such as refs/heads/main contains slashes: cut at an `@` that follows the repository path.
  const refAt = u.search(/@refs\//);
  if (refAt >= 0) u = u.slice(0, refAt);
  u = u.replace(/\/+$/, '').replace(/\.git$/, '');
  return u;
}

/** Reads the provenance fields, or undefined when the statement is not SLSA v0.2/v1 provenance. */
export function readProvenance(statement: InTotoStatement): Provenance | undefined {
  const p = obj(statement.predicate);
  if (p === undefined) return undefined;
  let sources: string[];
  let result: Omit<Provenance, 'sourceRepositories'>;
  if (statement.predicateType === slsaProvenanceV02) {
    const configSource = obj(obj(p['invocation'])?.['configSource']);
    sources = [str(configSource?.['uri']) ?? [], uris(p['materials'])].flat();
    result = { version: 'v0.2', builderId: str(obj(p['builder'])?.['id']), buildType: str(p['buildType']) };
  } else if (statement.predicateType === slsaProvenanceV1) {
    const def = obj(p['buildDefinition']);
    const external = obj(def?.['externalParameters']);
    const workflow = obj(external?.['workflow']);
    sources = [
      str(workflow?.['repository']) ?? [],
      str(external?.['source']) ?? str(obj(external?.['source'])?.['uri']) ?? [],
      uris(def?.['resolvedDependencies']),
    ].flat();
    result = {
      version: 'v1',
      builderId: str(obj(obj(p['runDetails'])?.['builder'])?.['id']),
      buildType: str(def?.['buildType']),
    };
  } else {
    return undefined;
  }
  return { ...result, sourceRepositories: [...new Set(sources.map(normaliseSourceUri))] };
}

/**
 * Compares a provenance statement with `required`. Undefined when every
 * given requirement holds; otherwise ProvenanceMismatch naming the first that
 * does not. A statement that is not SLSA provenance, or lacks a required
 * field, is a mismatch. `sourceRepositories`: at least one of the statement's
 * sources must equal one of the listed repositories (both normalised).
 */
export function checkProvenance(
  statement: InTotoStatement,
  required: ProvenanceRequirement,
): ProvenanceMismatch | undefined {
  const mismatch = (message: string): ProvenanceMismatch => ({ reason: 'ProvenanceMismatch', message });
  const prov = readProvenance(statement);
  if (prov === undefined) return mismatch(`predicate type ${statement.predicateType} is not SLSA provenance`);
  const matcher = required.builderIdRegExp;
  if (matcher !== undefined && (prov.builderId === undefined || !matchesIdentity(matcher, prov.builderId))) {
    return mismatch(
      `builder id ${JSON.stringify(prov.builderId ?? null)} does not match ${describeMatcher(matcher)}`,
    );
  }
  if (required.buildType !== undefined && prov.buildType !== required.buildType) {
    return mismatch(
      `build type ${JSON.stringify(prov.buildType ?? null)} is not ${JSON.stringify(required.buildType)}`,
    );
  }
  const repos = required.sourceRepositories;
  if (repos !== undefined && repos.length > 0) {
    const wanted = new Set(repos.map(normaliseSourceUri));
    if (!prov.sourceRepositories.some((s) => wanted.has(s))) {
      return mismatch(`no source repository of ${JSON.stringify(prov.sourceRepositories)} is allowed`);
    }
  }
  return undefined;
}
