/**
 * What the signature and attestation checks share about evidence: the
 * Unknown-class reasons of incomplete evidence, and turning a bundle
 * referrer's bytes into a verification result without ever throwing on
 * registry content.
 */
import type { Digest } from '../base/digest.js';
import type { UnknownReason } from '../base/reasons.js';
import type { BundleReferrer, Evidence, SourceItem } from '../registry/evidence.js';
import type { Authority } from './authority.js';
import { verifyBundle, type BundleResult } from './bundle.js';

/**
 * Why incomplete evidence cannot decide: the failing sources' own reasons
 * (a cap shows up as EvidenceLimitExceeded there), or EvidenceIncomplete when
 * none failed but something was not seen (the image manifest, or a source
 * this fetch skipped).
 */
export function incompleteReasons(evidence: Evidence): UnknownReason[] {
  const reasons = new Set<UnknownReason>();
  for (const s of evidence.sources) {
    // `.sbom` attachments never decide a verdict (design §2), so their failures are not its reasons.
    if (s.reason !== undefined && s.item !== 'sbom') reasons.add(s.reason);
  }
  if (reasons.size === 0) reasons.add('EvidenceIncomplete');
  return [...reasons];
}

/**
 * Why complete evidence without a valid item is a definite failure other
 * than "missing" (issue 14 finding 3), from the sources that could hold the
 * item: `EvidenceLimitExceeded` when one served more than the count limits
 * or the byte budget let be judged (the newest within them were judged),
 * `invalid` when a tag held something that is not a signature (attestation)
 * manifest; undefined when neither.
 */
export function servedButUnusable(
  evidence: Evidence,
  items: readonly SourceItem[],
): { readonly kind: 'EvidenceLimitExceeded' | 'invalid'; readonly message: string } | undefined {
  const relevant = evidence.sources.filter((s) => items.includes(s.item) && s.outcome === 'found');
  const limited = relevant.find((s) => (s.omitted ?? 0) > 0);
  if (limited !== undefined) {
    return {
      kind: 'EvidenceLimitExceeded',
      message: `${limited.repository} (${limited.item}): ${String(limited.omitted)} items over the count limits or the evidence byte budget were not judged, and none of the newest within them verified`,
    };
  }
  const invalid = relevant.find((s) => s.invalid !== undefined);
  return invalid?.invalid === undefined ? undefined : { kind: 'invalid', message: invalid.invalid };
}

/** The unsigned `dev.sigstore.bundle.predicateType` hint: for filtering only, never for trust. */
export function predicateHint(b: BundleReferrer): string | undefined {
  return b.annotations['dev.sigstore.bundle.predicateType'];
}

/**
 * Verifies a bundle referrer against the image digest. `'malformed'` when
 * its bytes are not JSON or not a Sigstore bundle (VerifyError BundleInvalid):
 * the caller decides which rejection reason that is.
 */
export function verifyBundleReferrer(
  b: BundleReferrer,
  digest: Digest,
  authority: Authority,
  now: Date,
): BundleResult | 'malformed' {
  try {
    return verifyBundle(
      JSON.parse(new TextDecoder().decode(b.bundle)) as unknown,
      { kind: 'digest', digest },
      authority,
      now,
    );
  } catch {
    return 'malformed';
  }
}
