/**
 * `match.signatureOn` for multi-platform images (design §4.1). The runtime
 * reports one digest — usually the index, sometimes the platform manifest —
 * while a pipeline may have signed the other one. This module decides which
 * digests' verdicts count and how they combine; fetching the related
 * digests is the caller's job.
 *
 * - `index`: the index must pass. A reported platform manifest is judged by
 *   the index that lists it, found from the pod's tag; when none can be
 *   found the answer is Unknown `IndexUnresolved` — never a definite failure,
 *   since the index may well be signed.
 * - `platform`: the platform manifest must pass. A reported index is judged
 *   by its platform manifests, all of which must pass: Sigwatch does not know
 *   which one the node pulled, and "all" can only be stricter than "the one".
 * - `either`: whichever passes. A failure of the reported digest is final
 *   only when the related digests' verdicts are known and fail too, or when
 *   there is provably nothing related (a single-platform image, a pod that
 *   names its image by digest). A registry failure or a tag that moved
 *   makes it Unknown.
 *
 * Pure: no I/O, verdicts in, verdict out.
 */
import type { SignatureOn } from './spec.js';
import type { PolicyVerdict, Verdict } from './verdict.js';

/** What the reported digest is. */
export type ReportedKind = 'index' | 'platform';

/**
 * The verdicts of the digests related to the reported one: the platform
 * manifests of a reported index, or the index (a one-element list) listing a
 * reported platform manifest. Otherwise:
 * - `pending`: being fetched;
 * - `failed`: the registry could not be asked (an outage, a rate limit);
 * - `none`: there is nothing to relate — the pod names the image by digest,
 *   the tag names this very manifest (a single-platform image), or the index
 *   lists no runnable manifest;
 * - `unresolved`: there should be something but it cannot be found (the tag
 *   moved to a manifest that does not list the running digest);
 * - `standalone`: the pod's tag named this very platform manifest (a
 *   single-platform image): there is no index, and the manifest the tag
 *   named is the top-level artifact a pipeline signs — judged itself under
 *   every `signatureOn`, `index` included.
 */
export type Related = readonly PolicyVerdict[] | 'pending' | 'failed' | 'none' | 'unresolved' | 'standalone';

/** Which related digests an evaluation needs, before any is fetched. */
export function needsRelated(on: SignatureOn, kind: ReportedKind, reported: PolicyVerdict): boolean {
  if (on === 'either') return !passes(reported.verdict);
  return on !== kind;
}

const passes = (v: Verdict): boolean => v === 'Compliant' || v === 'Exempt';

/** NonCompliant over Unknown over the passing verdicts. */
function worst(verdicts: readonly PolicyVerdict[]): PolicyVerdict | undefined {
  return (
    verdicts.find((v) => v.verdict === 'NonCompliant') ??
    verdicts.find((v) => v.verdict === 'Unknown') ??
    verdicts[0]
  );
}

function unknown(
  reported: PolicyVerdict,
  reason: 'IndexUnresolved' | 'RegistryUnavailable',
  message: string,
): PolicyVerdict {
  return {
    policy: reported.policy,
    verdict: 'Unknown',
    reasons: [reason],
    findings: [{ check: 'signature', reason, message }],
    signers: [],
  };
}

function unresolved(reported: PolicyVerdict, kind: ReportedKind): PolicyVerdict {
  return unknown(
    reported,
    'IndexUnresolved',
    kind === 'platform'
      ? 'no index listing this digest was found from the pod’s image tag'
      : 'the index lists no platform manifest that could be judged',
  );
}

/**
 * The verdict under `on`, or undefined while related verdicts it needs are
 * still `pending`. `reported` is the reported digest's own verdict.
 */
export function combineBySignatureOn(
  on: SignatureOn,
  kind: ReportedKind,
  reported: PolicyVerdict,
  related: Related,
): PolicyVerdict | undefined {
  if (!needsRelated(on, kind, reported)) return reported;
  if (related === 'pending') return undefined;
  // An outage is never a definite answer, whatever the reported digest says.
  if (related === 'failed')
    return unknown(
      reported,
      'RegistryUnavailable',
      'the related index or platform manifests could not be read',
    );
  if (related === 'standalone') return reported;
  if (related === 'none' || related.length === 0) {
    // Nothing to relate: `either` has its answer in the reported digest; the others need what does not exist.
    return on === 'either' ? reported : unresolved(reported, kind);
  }
  // Something related exists but cannot be found: it might pass, so no definite failure.
  if (related === 'unresolved') return unresolved(reported, kind);
  // The index's verdict, or all platform manifests' (worst of them).
  const other = worst(related) ?? reported;
  if (on !== 'either') return other;
  if (passes(other.verdict)) return other;
  // Neither passes: a definite failure only if both are definite.
  if (reported.verdict === 'Unknown') return reported;
  if (other.verdict === 'Unknown') return other;
  return reported;
}
