/**
 * `match.signatureOn` in the controller (design §4.1): the reported digest's
 * own verdict, or combined (policy/signature-on.ts) with the verdicts of the
 * index or platform manifests related to it, which are found through
 * RelatedDigests and judged from the shared evidence store like any digest.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import { parseDuration } from '../../policy/duration.js';
import {
  combineBySignatureOn,
  needsRelated,
  type Related,
  type ReportedKind,
} from '../../policy/signature-on.js';
import type { PolicyVerdict } from '../../policy/verdict.js';
import type { Repository } from '../../registry/client.js';
import type { Evidence } from '../../registry/evidence.js';
import { MediaTypes } from '../../registry/manifest.js';
import { evidenceKeyString, type EvidenceKey } from '../evidence/store.js';
import type { TrimmedContainer } from '../pod.js';
import type { RelatedAnswer, RelatedDigests } from '../evidence/related-digests.js';

/** What judging related digests needs from the controller. */
export interface RelatedVerdictSources {
  readonly related: RelatedDigests;
  /** The evidence of a related digest, tracked for the policy (fetched when new); undefined until fetched. */
  readonly track: (key: EvidenceKey, policy: ReadyPolicy) => Evidence | undefined;
  readonly evaluate: (evidence: Evidence, policy: ReadyPolicy, now: Date) => PolicyVerdict;
}

const indexMediaTypes: readonly string[] = [MediaTypes.ociIndex, MediaTypes.dockerList];

/** Whether the reported digest is an index or a platform manifest; undefined when its media type is unknown. */
export function reportedKind(mediaType: string | undefined): ReportedKind | undefined {
  if (mediaType === undefined) return undefined;
  return indexMediaTypes.includes(mediaType) ? 'index' : 'platform';
}

/** The spec image's repository and tag, when it names one (a digest-only reference has no index to find). */
function taggedReference(container: TrimmedContainer): (Repository & { readonly tag: string }) | undefined {
  const ref = container.reference;
  return ref?.tag === undefined
    ? undefined
    : { registry: ref.registry, repository: ref.repository, tag: ref.tag };
}

/**
 * The verdict under the policy's `match.signatureOn` (signature-on.ts):
 * the reported digest's own, or combined with those of the index or
 * platform manifests related to it; undefined while those are fetched.
 */
export function verdictBySignatureOn(
  sources: RelatedVerdictSources,
  a: {
    /** The pod's key: woken (re-queued) when a related lookup it waits for ends. */
    key: string;
    container: TrimmedContainer;
    /** The reported digest and its repository. */
    image: EvidenceKey;
    evidence: Evidence;
    policy: ReadyPolicy;
    /** The reported digest's own verdict under the policy. */
    own: PolicyVerdict;
    /** The pod's evidence keys: related digests are added, so their changes re-judge the pod. */
    ids: Set<string>;
    now: Date;
  },
): PolicyVerdict | undefined {
  const kind = reportedKind(a.evidence.imageMediaType);
  const on = a.policy.spec.match.signatureOn;
  if (kind === undefined || !needsRelated(on, kind, a.own)) return a.own;
  let keys: RelatedAnswer<readonly EvidenceKey[]> | 'standalone';
  if (kind === 'index') {
    const platforms = sources.related.platformsOf(a.image, a.image.digest, a.key);
    keys = typeof platforms === 'string' ? platforms : platforms.map((digest) => ({ ...a.image, digest }));
  } else {
    const tagged = taggedReference(a.container);
    // A pod that names its image by digest pulled that manifest itself: there is no index to relate.
    const index =
      tagged === undefined
        ? 'none'
        : sources.related.indexFor(
            tagged,
            tagged.tag,
            a.image.digest,
            a.key,
            // The tag is re-read at least as often as the policy re-verifies evidence.
            parseDuration(a.policy.spec.reverifyInterval),
          );
    // (Spelt out: TypeScript cannot narrow a branded Digest against these literals.)
    if (index === 'pending') keys = 'pending';
    else if (index === 'failed') keys = 'failed';
    else if (index === 'unresolved') keys = 'unresolved';
    else if (tagged === undefined) keys = 'none';
    // The pod's tag named this manifest itself: a single-platform image, judged as the top-level artifact.
    else if (index === 'none') keys = 'standalone';
    else keys = [{ registry: tagged.registry, repository: tagged.repository, digest: index }];
  }
  return combineBySignatureOn(on, kind, a.own, judgeRelated(sources, keys, a.policy, a.ids, a.now));
}

function judgeRelated(
  sources: RelatedVerdictSources,
  keys: RelatedAnswer<readonly EvidenceKey[]> | 'standalone',
  policy: ReadyPolicy,
  ids: Set<string>,
  now: Date,
): Related {
  if (typeof keys === 'string') return keys;
  // Track every related digest first, so all of them are fetched in parallel.
  const found = keys.map((k) => {
    ids.add(evidenceKeyString(k));
    return sources.track(k, policy);
  });
  if (found.some((e) => e === undefined)) return 'pending';
  return found.flatMap((e) => (e === undefined ? [] : [sources.evaluate(e, policy, now)]));
}
