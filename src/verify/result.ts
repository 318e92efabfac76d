/**
 * One result type for every signature check (legacy cosign signatures,
 * Sigstore bundles, DSSE attestations): which authority accepted it and on
 * what evidence, or the definite reason it was rejected.
 */
import type { DefiniteReason } from '../base/reasons.js';

export type SignatureFormat = 'legacy' | 'bundle';

/** What the verified signature tells about its signer. */
export interface SignerInfo {
  /** Certificate SAN (URI or email) for keyless signatures. */
  readonly identity?: string;
  /** OIDC issuer from the Fulcio extension (1.3.6.1.4.1.57264.1.8, else .1). */
  readonly issuer?: string;
}

/** How the signing time was established; only a verified time counts. */
export type TimeSource = 'transparency-log' | 'timestamp-authority';

export interface VerifiedSignature {
  readonly ok: true;
  readonly authority: string;
  readonly format: SignatureFormat;
  readonly signer: SignerInfo;
  /** Verified signing time (SET-verified integrated time or RFC 3161), if any. */
  readonly signedAt?: Date;
  readonly timeSource?: TimeSource;
  /** A transparency-log entry was verified (SET or inclusion proof + checkpoint). */
  readonly transparencyLog: boolean;
  /** Certificate or key validity end, for `validUntil` (the answer may change then). */
  readonly validUntil?: Date;
}

export interface RejectedSignature {
  readonly ok: false;
  readonly authority: string;
  readonly format: SignatureFormat;
  readonly reason: DefiniteReason;
  /** One line for humans: what did not match. Tests assert `reason`, never this. */
  readonly message: string;
}

export type SignatureResult = VerifiedSignature | RejectedSignature;
