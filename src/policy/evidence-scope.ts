/**
 * Where a policy needs its evidence to have looked, and where a given
 * evidence did look. A policy edit can point an authority at a new
 * `source.repository` or start reading attestations; evidence fetched before
 * the edit never looked there, so it cannot support "missing" (or any other
 * definite failure) under the edited policy: such evidence is judged as
 * incomplete until a fetch has looked where the policy now needs.
 *
 * Evidence records what it looked at in its sources: one per repository and
 * item read, whatever the answer.
 */
import type { Repository } from '../registry/client.js';
import type { Evidence, SourceItem } from '../registry/evidence.js';
import { parseReference } from '../registry/reference.js';
import type { ReadyPolicy } from './compile.js';

export interface EvidenceScope {
  /** Signature repositories beyond the image's own: the authorities' `source.repository`. */
  readonly extraRepositories: readonly Repository[];
  /** Whether the `.att` tags must have been read (attestation or SBOM rules). */
  readonly attestations: boolean;
}

/** A repository and item the evidence has not read. */
export interface Unlooked {
  readonly repository: string;
  readonly item: Extract<SourceItem, 'sig' | 'att'>;
}

const repositoryName = (r: Repository): string => `${r.registry}/${r.repository}`;

/** The `source.repository` of every authority of `policies`, once each. */
export function sourceRepositories(policies: readonly ReadyPolicy[]): Repository[] {
  const repos = new Map<string, Repository>();
  for (const p of policies) {
    for (const a of p.authorities) {
      if (a.sourceRepository === undefined) continue;
      try {
        const ref = parseReference(a.sourceRepository);
        const repo = { registry: ref.registry, repository: ref.repository };
        repos.set(repositoryName(repo), repo);
      } catch {
        // Validation accepted it; a reference that still does not parse is simply not looked in.
      }
    }
  }
  return [...repos.values()];
}

const scopes = new WeakMap<ReadyPolicy, EvidenceScope>();

/**
 * What judging `policy` needs the evidence to have looked at. Memoised per
 * compiled policy (immutable): the evaluator asks for every pod on every
 * re-evaluation, and parsing the authorities' references each time would
 * cost the policy-edit path.
 */
export function policyScope(policy: ReadyPolicy): EvidenceScope {
  let scope = scopes.get(policy);
  if (scope === undefined) {
    scope = { extraRepositories: sourceRepositories([policy]), attestations: policy.needsAttestations };
    scopes.set(policy, scope);
  }
  return scope;
}

/**
 * What of `scope` `evidence` did not read: the signatures of each
 * repository (the image's own and the extra ones), and their `.att` tags
 * when attestations are needed. Empty when the evidence covers the scope.
 */
export function unlooked(evidence: Evidence, scope: EvidenceScope): Unlooked[] {
  const read = new Set(evidence.sources.map((s) => `${s.repository}\u0000${s.item}`));
  const repositories = new Set([evidence.repository, ...scope.extraRepositories.map(repositoryName)]);
  const missing: Unlooked[] = [];
  for (const repository of repositories) {
    if (!read.has(`${repository}\u0000sig`)) missing.push({ repository, item: 'sig' });
    if (scope.attestations && !read.has(`${repository}\u0000att`)) missing.push({ repository, item: 'att' });
  }
  return missing;
}

/**
 * `evidence` as the checks must see it when it did not read everything
 * `scope` needs: incomplete, each unread source standing as one that has
 * not answered yet. A valid signature it holds still counts (as with any
 * incomplete evidence); nothing definite can be concluded from its absence.
 * The evidence itself when it covers the scope.
 */
export function withinScope(evidence: Evidence, scope: EvidenceScope): Evidence {
  // Evidence and scopes are immutable, and re-evaluation after a policy edit asks again for every pod: memoised.
  let byScope = judgedViews.get(evidence);
  if (byScope === undefined) {
    byScope = new WeakMap();
    judgedViews.set(evidence, byScope);
  }
  let judged = byScope.get(scope);
  if (judged === undefined) {
    judged = judgedView(evidence, scope);
    byScope.set(scope, judged);
  }
  return judged;
}

const judgedViews = new WeakMap<Evidence, WeakMap<EvidenceScope, Evidence>>();

function judgedView(evidence: Evidence, scope: EvidenceScope): Evidence {
  const missing = unlooked(evidence, scope);
  if (missing.length === 0) return evidence;
  return {
    ...evidence,
    complete: false,
    sources: [
      ...evidence.sources,
      ...missing.map(({ repository, item }) => ({
        repository,
        item,
        outcome: 'error' as const,
        reason: 'EvidenceIncomplete' as const,
        message: `${item === 'sig' ? 'signatures' : 'attestations'} in ${repository} have not been read yet`,
      })),
    ],
  };
}
