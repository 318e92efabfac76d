/**
 * The attestation check for one image digest: pure judgement of collected
 * evidence (design §3), mirroring image-signatures.ts.
 *
 * - Candidates are legacy `.att` layers and DSSE bundles whose verified
 *   statement is not cosign's sign predicate (those are signatures).
 * - A verified attestation of the required predicate type from any one
 *   authority, in any one source, satisfies the check.
 * - "Missing" and "invalid" are concluded only from complete evidence, and
 *   only when the `.att` tags were actually looked at: evidence collected
 *   without attestations has no `att` source and is incomplete for this check.
 */
import type { DefiniteReason, UnknownReason } from '../base/reasons.js';
import type { BundleReferrer, Evidence } from '../registry/evidence.js';
import type { Authority } from './authority.js';
import {
  incompleteReasons,
  predicateHint,
  servedButUnusable,
  verifyBundleReferrer,
} from './evidence-candidates.js';
import type { InTotoStatement } from './legacy-attestation.js';
import { verifyLegacyAttestation } from './legacy-attestation.js';
import { cosignSignPredicateType, predicateMatches, resolvePredicateType } from './predicate-types.js';
import type { RejectedSignature, SignatureFormat } from './result.js';

/** An attestation whose envelope verified under `authority` and whose statement names the image digest. */
export interface VerifiedAttestation {
  /** Name of the authority that accepted it. */
  readonly authority: string;
  readonly format: SignatureFormat;
  readonly predicateType: string;
  /** Parsed from the exact verified payload bytes. */
  readonly statement: InTotoStatement;
  /** Verified signing time, if the log or a timestamp authority gave one. */
  readonly signedAt?: Date;
}

export interface CollectedAttestations {
  readonly verified: readonly VerifiedAttestation[];
  readonly rejected: readonly RejectedSignature[];
}

export type AttestationCheck =
  | { readonly verdict: 'Compliant'; readonly attestation: VerifiedAttestation }
  | {
      readonly verdict: 'NonCompliant';
      readonly reasons: readonly Extract<
        DefiniteReason,
        'AttestationMissing' | 'AttestationInvalid' | 'EvidenceLimitExceeded'
      >[];
      readonly rejected: readonly RejectedSignature[];
      /** Why, when no rejected attestation says it (limits, a tag holding something else). */
      readonly message?: string;
    }
  | {
      readonly verdict: 'Unknown';
      readonly reasons: readonly UnknownReason[];
      readonly rejected: readonly RejectedSignature[];
    };

/** The unsigned hint names cosign's sign predicate: a signature bundle, not a candidate here. */
function isSignatureHint(b: BundleReferrer): boolean {
  return predicateHint(b) === cosignSignPredicateType;
}

type BundleOutcome = VerifiedAttestation | RejectedSignature | undefined;

function checkBundle(b: BundleReferrer, evidence: Evidence, authority: Authority, now: Date): BundleOutcome {
  const result = verifyBundleReferrer(b, evidence.digest, authority, now);
  if (result === 'malformed') {
    return {
      ok: false,
      authority: authority.name,
      format: 'bundle',
      reason: 'AttestationInvalid',
      message: `bundle ${b.manifestDigest} is not a valid Sigstore bundle`,
    };
  }
  if (!result.ok) return result;
  // A message signature or a cosign sign statement is a signature: judged by image-signatures.ts.
  if (result.statement === undefined || result.statement.predicateType === cosignSignPredicateType) {
    return undefined;
  }
  return {
    authority: result.authority,
    format: 'bundle',
    predicateType: result.statement.predicateType,
    statement: result.statement,
    ...(result.signedAt === undefined ? {} : { signedAt: result.signedAt }),
  };
}

/**
 * Verifies every attestation candidate in `evidence` under each authority.
 * Pure: no I/O, time from `now`; never throws on registry content.
 */
export function collectVerifiedAttestations(
  evidence: Evidence,
  authorities: readonly Authority[],
  now: Date,
): CollectedAttestations {
  const verified: VerifiedAttestation[] = [];
  const rejected: RejectedSignature[] = [];
  for (const authority of authorities) {
    for (const layer of evidence.attestations) {
      const r = verifyLegacyAttestation(
        { envelope: layer.envelope, annotations: layer.annotations },
        evidence.digest,
        authority,
        now,
      );
      if (!r.ok) {
        rejected.push(r);
        continue;
      }
      verified.push({
        authority: r.authority,
        format: 'legacy',
        predicateType: r.statement.predicateType,
        statement: r.statement,
        ...(r.signedAt === undefined ? {} : { signedAt: r.signedAt }),
      });
    }
    for (const b of evidence.bundles) {
      if (isSignatureHint(b)) continue;
      const r = checkBundle(b, evidence, authority, now);
      if (r === undefined) continue;
      if ('ok' in r) rejected.push(r);
      else verified.push(r);
    }
  }
  return { verified, rejected };
}

/**
 * Judges whether `evidence` holds a verified attestation of
 * `requiredPredicateType` (a cosign `--type` shortcut or a URI; SBOM types
 * match by prefix). Any rejected candidate (by any key, of any type, since a
 * rejected envelope's type is unverified) turns "missing" into
 * `AttestationInvalid`; the rejections themselves carry the specific reason.
 */
export function checkAttestation(
  evidence: Evidence,
  verified: readonly VerifiedAttestation[],
  rejected: readonly RejectedSignature[],
  requiredPredicateType: string,
): AttestationCheck {
  const required = resolvePredicateType(requiredPredicateType) ?? requiredPredicateType;
  const found = verified.find((a) => predicateMatches(required, a.predicateType));
  if (found !== undefined) return { verdict: 'Compliant', attestation: found };
  const attLooked = evidence.sources.some((s) => s.item === 'att');
  if (!evidence.complete || !attLooked)
    return { verdict: 'Unknown', reasons: incompleteReasons(evidence), rejected };
  // Served completely, so definite: over the limits, or an `.att` tag holding something else.
  const unusable = servedButUnusable(evidence, ['att', 'referrers']);
  if (unusable?.kind === 'EvidenceLimitExceeded')
    return {
      verdict: 'NonCompliant',
      reasons: ['EvidenceLimitExceeded'],
      rejected,
      message: unusable.message,
    };
  if (rejected.length === 0 && unusable === undefined)
    return { verdict: 'NonCompliant', reasons: ['AttestationMissing'], rejected };
  return {
    verdict: 'NonCompliant',
    reasons: ['AttestationInvalid'],
    rejected,
    ...(rejected.length === 0 && unusable !== undefined ? { message: unusable.message } : {}),
  };
}
