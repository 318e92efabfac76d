/**
 * SLSA provenance (v0.2 and v1, formats.md §6) read from a verified in-toto
 * statement, and the policy comparison over it. Pure; the statement must
 * already be verified (attestations.ts), this module only reads it.
 *
 * `sourceRepositories` is matched against the build's **own** source only —
 * the repository whose configuration the builder ran — never against
 * `materials` / `resolvedDependencies`, which list everything a build used: a
 * build of another repository that merely depends on the required one must
 * not pass. Where the build's own source is (buildSource):
 * - v0.2: `invocation.configSource.uri`;
 * - v1: the field the build type names. GitHub Actions workflow build types
 *   (githubActionsBuildTypes): `externalParameters.workflow.repository`, the
 *   repository whose resolved dependency is `git+<repository>@<ref>`; the
 *   container-based build type: `externalParameters.source.uri`. Any other
 *   build type names no source Sigwatch knows how to read, so it satisfies no
 *   `sourceRepositories` rule (a definite mismatch, not Unknown: the signed
 *   document is complete, it just does not say what is required).
 */
import type { InTotoStatement } from './legacy-attestation.js';
import type { IdentityMatcher } from './identity.js';
import { describeMatcher, matchesIdentity } from './identity.js';
import { asObject as obj, asString as str, type JsonObject as Json } from '../base/json.js';

export const slsaProvenanceV02 = 'https://slsa.dev/provenance/v0.2';
export const slsaProvenanceV1 = 'https://slsa.dev/provenance/v1';

/**
 * SLSA v1 build types describing a GitHub Actions workflow run, whose source is
 * `externalParameters.workflow.repository`: the community definition
 * (slsa-github-generator), GitHub's own (artifact attestations), and GitHub's
 * earlier URI for it.
 */
export const githubActionsBuildTypes: readonly string[] = [
  'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
  'https://actions.github.io/buildtypes/workflow/v1',
  'https://github.com/actions/buildtypes/workflow/v1',
];

/** slsa-github-generator's container-based builder: the source is `externalParameters.source.uri`. */
export const containerBasedBuildType = 'https://slsa.dev/container-based-build/v0.1?draft';

/** The policy-relevant fields of a provenance predicate; absent when the predicate lacks them. */
export interface Provenance {
  readonly version: 'v0.2' | 'v1';
  readonly builderId: string | undefined;
  readonly buildType: string | undefined;
  /**
   * The build's own source repository, normalised (normaliseSourceUri); absent
   * when the predicate does not name one where its version and build type
   * put it. Materials never count.
   */
  readonly source: string | undefined;
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

/** Source URIs longer than this (UTF-16 units, 2 KiB) are not normalised and match nothing. */
export const maxSourceUriLength = 2048;

/**
 * Drops a leading `git+` (SPDX download-location form), the ref or revision
 * (`@…`) and a trailing `.git` or `/`, so that
 * `git+https://github.com/o/r@refs/heads/main` compares equal to
 * `https://github.com/o/r`. Only the part after the last `/` is searched for
 * `@`, so user info in the authority is left alone. Undefined for a URI
 * over {@link maxSourceUriLength}: it is no source anyone allowed.
 */
export function normaliseSourceUri(uri: string): string | undefined {
  if (uri.length > maxSourceUriLength) return undefined;
  let u = uri.trim().replace(/^git\+/, '');
  const slash = u.lastIndexOf('/');
  const at = u.indexOf('@', slash + 1);
  if (at >= 0) u = u.slice(0, at);
  // A ref such as refs/heads/main contains slashes: cut at an `@` that follows the repository path.
  const refAt = u.search(/@refs\//);
  if (refAt >= 0) u = u.slice(0, refAt);
  let end = u.length;
  while (end > 0 && u[end - 1] === '/') end--; // not /\/+$/: quadratic on slashes not at the end
  return u.slice(0, end).replace(/\.git$/, '');
}

/** The build's own source as the build type defines it (see the module comment); never a dependency. */
function v1Source(buildType: string | undefined, external: Json | undefined): string | undefined {
  if (buildType === undefined) return undefined;
  if (githubActionsBuildTypes.includes(buildType)) return str(obj(external?.['workflow'])?.['repository']);
  if (buildType === containerBasedBuildType) return str(obj(external?.['source'])?.['uri']);
  return undefined;
}

/** Reads the provenance fields, or undefined when the statement is not SLSA v0.2/v1 provenance. */
export function readProvenance(statement: InTotoStatement): Provenance | undefined {
  const p = obj(statement.predicate);
  if (p === undefined) return undefined;
  let source: string | undefined;
  let result: Omit<Provenance, 'source'>;
  if (statement.predicateType === slsaProvenanceV02) {
    source = str(obj(obj(p['invocation'])?.['configSource'])?.['uri']);
    result = { version: 'v0.2', builderId: str(obj(p['builder'])?.['id']), buildType: str(p['buildType']) };
  } else if (statement.predicateType === slsaProvenanceV1) {
    const def = obj(p['buildDefinition']);
    const buildType = str(def?.['buildType']);
    source = v1Source(buildType, obj(def?.['externalParameters']));
    result = { version: 'v1', builderId: str(obj(obj(p['runDetails'])?.['builder'])?.['id']), buildType };
  } else {
    return undefined;
  }
  return { ...result, source: source === undefined ? undefined : normaliseSourceUri(source) };
}

/** Where the build's source would be, for a message naming what was missing. */
function sourceField(prov: Provenance): string {
  if (prov.version === 'v0.2') return 'invocation.configSource.uri';
  if (prov.buildType !== undefined && githubActionsBuildTypes.includes(prov.buildType))
    return 'externalParameters.workflow.repository';
  if (prov.buildType === containerBasedBuildType) return 'externalParameters.source.uri';
  return `a source field of build type ${JSON.stringify(prov.buildType ?? null)} (none is known)`;
}

/**
 * Compares a provenance statement with `required`. Undefined when every
 * given requirement holds; otherwise ProvenanceMismatch naming the first that
 * does not. A statement that is not SLSA provenance, or lacks a required
 * field, is a mismatch. `sourceRepositories`: the build's own source must
 * equal one of the listed repositories (both normalised); a provenance whose
 * own source cannot be determined satisfies none.
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
    if (prov.source === undefined) {
      return mismatch(
        `the provenance names no build source (or one over ${String(maxSourceUriLength)} characters) in ${sourceField(prov)}; materials never count`,
      );
    }
    if (!repos.some((r) => normaliseSourceUri(r) === prov.source)) {
      return mismatch(`build source ${JSON.stringify(prov.source)} is not an allowed source repository`);
    }
  }
  return undefined;
}
