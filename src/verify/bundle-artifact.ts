/**
 * Binding a verified bundle to the artifact the caller asked about. Runs only
 * after the signature, certificate, log and identity have verified, so a
 * `DigestMismatch` always means "a genuine signature, about something else".
 * Pure: no I/O, no clock.
 *
 * - messageSignature: the signed `messageDigest` must equal the artifact's
 *   digest of the same algorithm (the signature was verified over exactly
 *   those digest bytes).
 * - DSSE with an in-toto payload: the statement is parsed from the very
 *   payload bytes whose PAE was verified, and some subject must match the
 *   artifact on every digest algorithm both know (formats.md §6): only
 *   sha256 for a digest artifact; sha256, sha384 and sha512 for bytes.
 * - DSSE with any other payload type: the payload itself is the signed
 *   artifact, so its sha256 must be the artifact's. (cosign and the Sigstore
 *   conformance suite only sign in-toto; sigstore-js's own fixtures sign
 *   "hello, world!" as text/plain.) An image digest never matches such a
 *   payload, so this cannot make an image look signed.
 */
import { createHash } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { digestHex, type Digest } from '../base/digest.js';
import { messageDigestAlgorithm } from './bundle-entity.js';
import { reject, type BundleRejection } from './bundle-failure.js';
import { inTotoPayloadType } from './dsse.js';
import { parseInTotoStatement, type InTotoStatement } from './legacy-attestation.js';

/** What was signed, as the caller knows it: its sha256 digest, or its bytes. */
export type Artifact =
  | { readonly kind: 'digest'; readonly digest: Digest }
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

/** The content a bundle was verified to be about. */
export type BoundArtifact =
  | { readonly ok: true; readonly statement?: InTotoStatement; readonly payloadType?: string }
  | BundleRejection;

/** Lower-case hex digests of the artifact by in-toto algorithm name; sha256 is always present. */
export function artifactDigests(artifact: Artifact): ReadonlyMap<string, string> {
  if (artifact.kind === 'digest') {
    return new Map([['sha256', digestHex(artifact.digest)]]);
  }
  const hex = (algorithm: string): string => createHash(algorithm).update(artifact.bytes).digest('hex');
  return new Map(['sha256', 'sha384', 'sha512'].map((a) => [a, hex(a)]));
}

/**
 * True when `subject` names the artifact: at least one algorithm in common
 * and no common algorithm disagreeing (hex compared case-insensitively).
 */
export function subjectMatches(
  subject: Readonly<Record<string, string>>,
  digests: ReadonlyMap<string, string>,
): boolean {
  const shared = Object.entries(subject).filter(([algorithm]) => digests.has(algorithm));
  return (
    shared.length > 0 && shared.every(([algorithm, hex]) => digests.get(algorithm) === hex.toLowerCase())
  );
}

function describe(digests: ReadonlyMap<string, string>): string {
  return `sha256:${digests.get('sha256') ?? ''}`;
}

/**
 * Checks that the (already verified) bundle content is about `artifact`, and
 * returns the verified in-toto statement for DSSE bundles that carry one.
 * Rejections: `DigestMismatch` (about another artifact, or no digest
 * algorithm in common), `AttestationInvalid` (an in-toto payload that is not
 * a valid Statement).
 */
export function bindArtifact(bundle: Bundle, artifact: Artifact): BoundArtifact {
  const digests = artifactDigests(artifact);
  if (bundle.content.$case === 'messageSignature') {
    const signature = bundle.content.messageSignature;
    const algorithm = messageDigestAlgorithm(signature);
    const expected = algorithm === undefined ? undefined : digests.get(algorithm);
    if (expected === undefined) {
      return reject(
        'DigestMismatch',
        `the bundle signs a ${String(algorithm)} digest, unknown for this artifact`,
      );
    }
    return signature.messageDigest.digest.toString('hex') === expected
      ? { ok: true }
      : reject('DigestMismatch', `the bundle signs another artifact than ${describe(digests)}`);
  }
  const { payload, payloadType } = bundle.content.dsseEnvelope;
  if (payloadType !== inTotoPayloadType) {
    const payloadDigest = createHash('sha256').update(payload).digest('hex');
    return payloadDigest === digests.get('sha256')
      ? { ok: true, payloadType }
      : reject('DigestMismatch', `the ${payloadType} payload is not the artifact ${describe(digests)}`);
  }
  const parsed = parseInTotoStatement(payload);
  if (!parsed.ok) {
    return reject('AttestationInvalid', `the DSSE payload is not an in-toto statement: ${parsed.problem}`);
  }
  const { statement } = parsed;
  return statement.subject.some((s) => subjectMatches(s.digest, digests))
    ? { ok: true, statement, payloadType }
    : reject('DigestMismatch', `no statement subject matches the artifact ${describe(digests)}`);
}
