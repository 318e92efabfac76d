/**
 * The signature check for one image digest: pure judgement of collected
 * evidence against alternative authorities (design §3).
 *
 * - A valid signature from any one authority, found in any one source,
 *   satisfies the check whatever the other sources did.
 * - "Missing" and every other definite failure are concluded only from
 *   complete evidence: if a source did not answer, or the image manifest was
 *   not seen in this fetch, the answer is Unknown with the sources' reasons.
 * - Content served completely is definite even when unusable: a source over
 *   the count limits or the byte budget whose judged (newest) items hold no
 *   valid signature is `EvidenceLimitExceeded`; a `.sig` tag holding
 *   something other than a signature manifest is `SignatureInvalid`.
 * - Bundles count as image signatures only when their verified content says
 *   so: a DSSE statement with predicate type cosign/sign/v1 (cosign v3) or a
 *   message signature over the image digest. Attestations are not signatures.
 */
import type { Digest } from '../base/digest.js';
import type { DefiniteReason, UnknownReason } from '../base/reasons.js';
import type { BundleReferrer, Evidence } from '../registry/evidence.js';
import type { Authority } from './authority.js';
import {
  incompleteReasons,
  predicateHint,
  servedButUnusable,
  verifyBundleReferrer,
} from './evidence-candidates.js';
import { verifyLegacySignature } from './legacy-signature.js';
import { cosignSignPredicateType } from './predicate-types.js';
import type { RejectedSignature, SignatureResult, VerifiedSignature } from './result.js';

export type SignatureCheck =
  | { readonly verdict: 'Compliant'; readonly accepted: readonly VerifiedSignature[] }
  | {
      readonly verdict: 'NonCompliant';
      readonly reasons: readonly DefiniteReason[];
      readonly rejected: readonly RejectedSignature[];
      /** Why, when no rejected signature says it (limits, a tag holding something else). */
      readonly message?: string;
    }
  | {
      readonly verdict: 'Unknown';
      readonly reasons: readonly UnknownReason[];
      readonly rejected: readonly RejectedSignature[];
    };

/**
 * When several candidates fail differently, the most specific reason leads:
 * a signature by the right key with the wrong identity says more than a
 * corrupt one.
 */
const reasonOrder: readonly DefiniteReason[] = [
  'IdentityMismatch',
  'CertificateExpired',
  'TransparencyLogMissing',
  'CertificateUntrusted',
  'KeyMismatch',
  'DigestMismatch',
  'SignatureInvalid',
];

function isAttestationHint(b: BundleReferrer): boolean {
  const hint = predicateHint(b);
  return hint !== undefined && hint !== cosignSignPredicateType;
}

function checkBundle(
  b: BundleReferrer,
  digest: Digest,
  authority: Authority,
  now: Date,
): SignatureResult | undefined {
  const result = verifyBundleReferrer(b, digest, authority, now);
  if (result === 'malformed') {
    return {
      ok: false,
      authority: authority.name,
      format: 'bundle',
      reason: 'SignatureInvalid',
      message: `bundle ${b.manifestDigest} is not a valid Sigstore bundle`,
    };
  }
  // A verified DSSE bundle about something other than a signature is an attestation: not a candidate here.
  if (
    result.ok &&
    result.statement !== undefined &&
    result.statement.predicateType !== cosignSignPredicateType
  ) {
    return undefined;
  }
  return result;
}

/**
 * Every signature candidate in `evidence` checked under one authority:
 * accepted and rejected alike, so callers may cache them per authority and
 * judge later with `judgeSignatures`. Pure: no I/O, time from `now`.
 */
export function signatureResults(evidence: Evidence, authority: Authority, now: Date): SignatureResult[] {
  const results: SignatureResult[] = [];
  for (const layer of evidence.signatures) {
    results.push(
      verifyLegacySignature(
        { payload: layer.payload, annotations: layer.annotations },
        evidence.digest,
        authority,
        now,
      ),
    );
  }
  for (const b of evidence.bundles) {
    if (isAttestationHint(b)) continue;
    const r = checkBundle(b, evidence.digest, authority, now);
    if (r !== undefined) results.push(r);
  }
  return results;
}

/** The signature verdict over the results of all alternative authorities (design §3). */
export function judgeSignatures(evidence: Evidence, results: readonly SignatureResult[]): SignatureCheck {
  const accepted: VerifiedSignature[] = [];
  const rejected: RejectedSignature[] = [];
  for (const r of results) {
    if (r.ok) accepted.push(r);
    else rejected.push(r);
  }
  if (accepted.length > 0) return { verdict: 'Compliant', accepted };
  if (!evidence.complete) return { verdict: 'Unknown', reasons: incompleteReasons(evidence), rejected };
  // Served completely, so definite: over the limits, or a `.sig` tag holding something else.
  const unusable = servedButUnusable(evidence, ['sig', 'referrers']);
  if (unusable?.kind === 'EvidenceLimitExceeded')
    return {
      verdict: 'NonCompliant',
      reasons: ['EvidenceLimitExceeded'],
      rejected,
      message: unusable.message,
    };
  if (rejected.length === 0) {
    return unusable === undefined
      ? { verdict: 'NonCompliant', reasons: ['SignatureMissing'], rejected }
      : { verdict: 'NonCompliant', reasons: ['SignatureInvalid'], rejected, message: unusable.message };
  }
  const present = new Set(rejected.map((r) => r.reason));
  const lead = reasonOrder.find((r) => present.has(r)) ?? rejected[0]?.reason ?? 'SignatureInvalid';
  return { verdict: 'NonCompliant', reasons: [lead], rejected };
}

/** Judges the image's signatures. Pure: no I/O, time from `now`. */
export function checkImageSignatures(
  evidence: Evidence,
  authorities: readonly Authority[],
  now: Date,
): SignatureCheck {
  return judgeSignatures(
    evidence,
    authorities.flatMap((a) => signatureResults(evidence, a, now)),
  );
}
