/**
 * Turns a failure of @sigstore/verify's `Verifier` into a design §3 reason.
 * Pure: no I/O, no clock.
 *
 * The library's error codes are coarser than our reasons (one
 * CERTIFICATE_ERROR for "untrusted chain", "no SCT" and "expired at the
 * signing time"; one TIMESTAMP_ERROR for "untrusted TSA", "countersigns other
 * data" and "too few times"), so the entity is re-read to tell them apart.
 * The bundle is rejected whatever the reason: the candidate times read here
 * are unverified, and only choose which reason is reported.
 *
 * | library code      | reason                                                             |
 * |-------------------|--------------------------------------------------------------------|
 * | TLOG_*            | TransparencyLogMissing (entry, SET, proof, checkpoint or body does |
 * |                   | not verify, or fewer entries than required)                        |
 * | CERTIFICATE_ERROR | CertificateExpired if a signing time lies outside the leaf's       |
 * |                   | validity, else CertificateUntrusted (chain, CA window, SCT)        |
 * | TIMESTAMP_ERROR   | SignatureInvalid (a duplicated time, or a TSA token over other     |
 * |                   | bytes), CertificateExpired (fewer signing times than required),    |
 * |                   | else CertificateUntrusted (TSA not trusted at that time)           |
 * | PUBLIC_KEY_ERROR  | KeyMismatch (key) / CertificateUntrusted (keyless)                 |
 * | anything else     | KeyMismatch (key) / SignatureInvalid (keyless)                     |
 *
 * A tampered SET or inclusion proof is `TransparencyLogMissing`, not
 * `SignatureInvalid`: an entry that does not verify proves nothing, so the
 * signature is exactly as unlogged as if the entry had been deleted (which an
 * attacker able to tamper with it could also do); legacy-signature.ts
 * treats a failed SET the same way. The signature itself was checked before
 * the library ran, so a forged signature never lands here.
 */
import type { X509Certificate } from '@sigstore/core';
import { VerificationError, type SignedEntity } from '@sigstore/verify';
import type { DefiniteReason } from '../base/reasons.js';
import type { BundleThresholds } from './bundle-entity.js';
import { VerifyError } from './errors.js';

/** A definite rejection before the authority name and format are added. */
export interface BundleRejection {
  readonly ok: false;
  readonly reason: DefiniteReason;
  readonly message: string;
}

/** Builds a rejection (the one constructor, so every rejection has the same shape). */
export const reject = (reason: DefiniteReason, message: string): BundleRejection => ({
  ok: false,
  reason,
  message,
});

/** What the classification needs to know besides the error. */
export interface FailureContext {
  readonly authorityKind: 'key' | 'keyless';
  readonly entity: SignedEntity;
  readonly thresholds: BundleThresholds;
}

const tlogCodes: ReadonlySet<string> = new Set([
  'TLOG_ERROR',
  'TLOG_BODY_ERROR',
  'TLOG_INCLUSION_PROOF_ERROR',
  'TLOG_INCLUSION_PROMISE_ERROR',
  'TLOG_MISSING_INCLUSION_ERROR',
]);

/** True for a library failure about transparency-log entries (which a log-optional authority may drop). */
export function isTransparencyLogFailure(error: unknown): boolean {
  return error instanceof VerificationError && tlogCodes.has(error.code);
}

/** A time the bundle claims, as the library would count it (before verification). */
interface ClaimedTime {
  readonly kind: 'transparency-log' | 'timestamp-authority';
  readonly time: Date;
  /** Log ID or TSA signer serial: what the library compares to find duplicates. */
  readonly source: string;
}

/** The times `Verifier.verifyTimestamps` would count: SET-carrying log entries and every TSA token. */
export function claimedTimes(entity: SignedEntity): ClaimedTime[] {
  return entity.timestamps.flatMap((t): ClaimedTime[] => {
    if (t.$case === 'timestamp-authority') {
      const { timestamp } = t;
      return [
        { kind: t.$case, time: timestamp.signingTime, source: timestamp.signerSerialNumber.toString('hex') },
      ];
    }
    const entry = t.tlogEntry;
    return entry.inclusionPromise === undefined
      ? []
      : [
          {
            kind: t.$case,
            time: new Date(Number(entry.integratedTime) * 1000),
            source: entry.logId.keyId.toString('hex'),
          },
        ];
  });
}

function leafOf(entity: SignedEntity): X509Certificate | undefined {
  return entity.key.$case === 'certificate' ? entity.key.certificate : undefined;
}

function explainCertificate(error: VerificationError, context: FailureContext): BundleRejection {
  const leaf = leafOf(context.entity);
  const outside = claimedTimes(context.entity).find(
    (t) => leaf !== undefined && (t.time < leaf.notBefore || t.time > leaf.notAfter),
  );
  if (outside !== undefined) {
    return reject(
      'CertificateExpired',
      `the ${outside.kind} time ${outside.time.toISOString()} is outside the certificate's validity`,
    );
  }
  return reject('CertificateUntrusted', `the certificate is not trusted: ${detail(error)}`);
}

function explainTimestamp(error: VerificationError, context: FailureContext): BundleRejection {
  const { entity, thresholds } = context;
  const times = claimedTimes(entity);
  const keys = times.map((t) => `${t.kind} ${t.source} ${String(t.time.getTime())}`);
  if (new Set(keys).size !== keys.length) {
    return reject(
      'SignatureInvalid',
      'the bundle repeats a signing-time proof (duplicate log entry or TSA token)',
    );
  }
  const foreign = entity.timestamps.some((t) => {
    if (t.$case !== 'timestamp-authority') return false;
    try {
      t.timestamp.tstInfo.verify(entity.signature.signature);
      return false;
    } catch {
      return true;
    }
  });
  if (foreign) {
    return reject('SignatureInvalid', 'an RFC 3161 timestamp in the bundle countersigns other data');
  }
  if (times.length < thresholds.timestamps) {
    const reason = context.authorityKind === 'keyless' ? 'CertificateExpired' : 'SignatureInvalid';
    return reject(
      reason,
      `${String(times.length)} verifiable signing time(s), ${String(thresholds.timestamps)} required: ` +
        'nothing places the signature inside the certificate validity',
    );
  }
  return reject(
    'CertificateUntrusted',
    `an RFC 3161 timestamp is not from a timestamp authority trusted at its time: ${detail(error)}`,
  );
}

function detail(error: VerificationError): string {
  const cause: unknown = error.cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

/**
 * Maps a failure thrown by `Verifier.verify` to a rejection (table above).
 * @throws VerifyError `BundleInvalid` for anything but a VerificationError:
 *   the library tripped over content it did not expect (a malformed field
 *   that passed schema validation), which is no verdict on the signature.
 */
export function explainFailure(error: unknown, context: FailureContext): BundleRejection {
  if (!(error instanceof VerificationError)) {
    throw new VerifyError('BundleInvalid', 'the bundle could not be verified: unexpected content', {
      cause: error,
    });
  }
  const byKey = context.authorityKind === 'key';
  if (tlogCodes.has(error.code)) {
    return reject('TransparencyLogMissing', `no verified transparency-log entry: ${detail(error)}`);
  }
  if (error.code === 'CERTIFICATE_ERROR') return explainCertificate(error, context);
  if (error.code === 'TIMESTAMP_ERROR') return explainTimestamp(error, context);
  if (error.code === 'PUBLIC_KEY_ERROR') {
    return byKey
      ? reject('KeyMismatch', detail(error))
      : reject('CertificateUntrusted', `the bundle is signed by a bare key: ${detail(error)}`);
  }
  // SIGNATURE_ERROR (step 2 of bundle-signature.ts normally catches it first) and NOT_IMPLEMENTED_ERROR.
  return byKey
    ? reject('KeyMismatch', `the signature does not verify with the authority key: ${detail(error)}`)
    : reject('SignatureInvalid', detail(error));
}
