/**
 * Sigstore bundle verification (formats.md §5–§7): one bundle, one artifact,
 * one authority → a SignatureResult, plus the verified in-toto statement of
 * DSSE bundles. Pure: no I/O, no network; time arrives as `now`.
 *
 * Accepts bundle v0.1, v0.2 and v0.3 (`…bundle.v0.3+json` and
 * `…bundle+json;version=0.3`; later 0.x minors are read as v0.3), with a
 * messageSignature or a DSSE envelope, signed by a key or by a Fulcio
 * certificate, logged in Rekor v1 (SET and/or inclusion proof) or Rekor v2
 * (inclusion proof + checkpoint, time from an RFC 3161 timestamp).
 *
 * The pipeline (each step in its own module, the first failure decides):
 *   parseBundle            bundle-parse.ts      malformed → throws BundleInvalid
 *   verifyBundleSignature  bundle-signature.ts  signer, signature, library
 *                                               checks, leaf profile, identity
 *   bindArtifact           bundle-artifact.ts   what was signed is the artifact
 * The artifact may be given by its sha256 digest alone: message signatures
 * are verified over the digest (bundle-prehash.ts), never over bytes we do
 * not have, and never only on the bundle's word.
 */
import type { Authority } from './authority.js';
import { bindArtifact, type Artifact } from './bundle-artifact.js';
import { parseBundle } from './bundle-parse.js';
import { verifyBundleSignature } from './bundle-signature.js';
import type { InTotoStatement } from './legacy-attestation.js';
import type { RejectedSignature, VerifiedSignature } from './result.js';

export type { Artifact } from './bundle-artifact.js';

/** A verified bundle: the signature result, and what a DSSE bundle verifiably said. */
export interface VerifiedBundle extends VerifiedSignature {
  readonly format: 'bundle';
  /** The in-toto statement of a DSSE bundle, parsed from the exact verified payload bytes. */
  readonly statement?: InTotoStatement;
  /** The DSSE payload type (absent for message signatures). */
  readonly payloadType?: string;
}

/** The outcome of verifyBundle: verified, or rejected with a design §3 reason. */
export type BundleResult = VerifiedBundle | RejectedSignature;

/**
 * Verifies `bundleJson` (already JSON-parsed) for `artifact` under
 * `authority`. Never throws on a well-formed bundle that fails to verify:
 * that is `{ ok: false, reason }` with a design §3 reason (`SignatureInvalid`,
 * `KeyMismatch`, `CertificateUntrusted`, `CertificateExpired`,
 * `TransparencyLogMissing`, `IdentityMismatch`, `DigestMismatch`,
 * `AttestationInvalid`; see bundle-signature.ts and bundle-failure.ts for
 * which check yields which). `now` only bounds signing times from the future.
 * @throws VerifyError `BundleInvalid` when the bundle is not a valid Sigstore
 *   bundle (schema, media type, base64, integers, unparsable certificate or
 *   timestamp).
 */
export function verifyBundle(
  bundleJson: unknown,
  artifact: Artifact,
  authority: Authority,
  now: Date,
): BundleResult {
  const bundle = parseBundle(bundleJson);
  const base = { authority: authority.name, format: 'bundle' } as const;
  const signature = verifyBundleSignature(bundle, authority, now);
  if (!signature.ok) return { ...base, ...signature };
  const bound = bindArtifact(bundle, artifact);
  if (!bound.ok) return { ...base, ...bound };
  return { ...base, ...signature, ...bound };
}
