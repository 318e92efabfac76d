/**
 * Verification of a parsed bundle's signature, signer, log entries and
 * signing time under one authority — everything except what the signature
 * is about (bundle-artifact.ts). Pure: no I/O; `now` is a parameter.
 *
 * Named steps; the first failure decides the reason:
 *  1. Signer: the authority's key; or, keyless, the bundle's leaf
 *     certificate (a bundle signed by a bare key → `CertificateUntrusted`).
 *  2. Signature over the content, with that key → `KeyMismatch` (key: "another
 *     key" cannot be told from "tampered") / `SignatureInvalid` (keyless).
 *  3. @sigstore/verify's Verifier, with no identity policy: timestamps (TSA
 *     tokens verified; integrated times only from SET-carrying entries),
 *     certificate chain at every signing time with SCTs, then every log entry
 *     (SET, or inclusion proof + checkpoint; Rekor v2 included) and its body.
 *     Failures map through bundle-failure.ts. A log-optional authority whose
 *     log entries fail is retried without them, as if they were absent.
 *  4. Stricter than the library: the leaf must look like a Fulcio code-signing
 *     certificate (one SAN, KeyUsage digitalSignature, EKU codeSigning) →
 *     `CertificateUntrusted`; no verified signing time may lie in the future.
 *  5. Identity: the verified SAN and issuer against the authority's RE2
 *     matchers (never a JS RegExp), then the leaf's GitHub workflow claims
 *     against the authority's exact values → `IdentityMismatch`.
 * A private-CA keyless bundle with no log, no TSA and a log-optional
 * authority replaces step 3 with a chain check at `now` (bundle-unlogged.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { X509Certificate } from '@sigstore/core';
import { Verifier, type SignedEntity, type Signer } from '@sigstore/verify';
import type { Bundle } from '@sigstore/bundle';
import type { Authority, KeylessAuthority } from './authority.js';
import {
  checkSignature,
  thresholdsFor,
  toEntity,
  trustMaterialFor,
  withoutTimeEvidence,
  withoutTransparencyLog,
  type BundleThresholds,
} from './bundle-entity.js';
import {
  claimedTimes,
  explainFailure,
  isTransparencyLogFailure,
  reject,
  type BundleRejection,
} from './bundle-failure.js';
import { isUnloggedPrivateKeyless, verifyChainAtNow } from './bundle-unlogged.js';
import { describeMatcher, githubWorkflowMismatch, matchesIdentity } from './identity.js';
import type { SignerInfo, TimeSource } from './result.js';

/** A signing time later than `now` by more than this is refused; real clock skew is seconds. */
export const maxFutureSkewMs = 60 * 60 * 1000;

const oidExtKeyUsage = '2.5.29.37';
const oidSubjectAltName = '2.5.29.17';
const oidCodeSigning = '1.3.6.1.5.5.7.3.3';

/** What a bundle's verified signature tells, before it is bound to an artifact. */
export interface VerifiedBundleSignature {
  readonly ok: true;
  readonly signer: SignerInfo;
  readonly signedAt?: Date;
  readonly timeSource?: TimeSource;
  /** At least one log entry verified. */
  readonly transparencyLog: boolean;
  /** The leaf certificate's notAfter (keyless); keys have no known end. */
  readonly validUntil?: Date;
}

/**
 * Runs steps 1–5 of the module comment. `thresholds` default to what the
 * authority requires (`thresholdsFor`); tests pass others to reach the
 * library's threshold checks.
 * @throws VerifyError `BundleInvalid` for a certificate or timestamp that does
 *   not parse, or content the library cannot process at all.
 */
export function verifyBundleSignature(
  bundle: Bundle,
  authority: Authority,
  now: Date,
  thresholds: BundleThresholds = thresholdsFor(authority),
): VerifiedBundleSignature | BundleRejection {
  let entity = toEntity(bundle, authority);
  if (authority.kind === 'key' && authority.trust === undefined) {
    // Without a trust root no log entry or TSA token can be checked: they count as absent.
    if (thresholds.tlogEntries > 0) {
      return reject('TransparencyLogMissing', 'the log is required but the authority has no trusted root');
    }
    entity = withoutTimeEvidence(entity);
  }
  const signerKey = signerKeyOf(entity, authority);
  if (!signerKey.ok) return signerKey;
  const signature = checkSignature(entity, signerKey.key);
  if (signature !== 'valid') {
    const why =
      signature === 'unsupported'
        ? 'this key type or digest cannot verify a message signature from its digest'
        : `the signature does not verify with the ${authority.kind === 'key' ? 'authority key' : 'certificate key'}`;
    return reject(authority.kind === 'key' ? 'KeyMismatch' : 'SignatureInvalid', why);
  }
  // Checked before the library, which would first miss the signing time the
  // absent entry would have given and call it an expired certificate.
  if (thresholds.tlogEntries > entity.tlogEntries.length) {
    return reject(
      'TransparencyLogMissing',
      'the authority requires a transparency-log entry and the bundle has none',
    );
  }
  let signer: Signer;
  if (isUnloggedPrivateKeyless(entity, authority)) {
    const atNow = verifyChainAtNow(entity, authority, now);
    if (!atNow.ok) return atNow;
    signer = atNow.signer;
  } else {
    const verified = runVerifier(entity, authority, thresholds);
    if (!verified.ok) return verified;
    ({ entity, signer } = verified);
  }
  const leaf = entity.key.$case === 'certificate' ? entity.key.certificate : undefined;
  const profile = leaf === undefined ? undefined : leafProfileProblem(leaf);
  if (profile !== undefined) return reject('CertificateUntrusted', profile);
  const times = claimedTimes(entity); // all verified now
  const future = times.find((t) => t.time.getTime() > now.getTime() + maxFutureSkewMs);
  if (future !== undefined) {
    return reject(
      'SignatureInvalid',
      `the ${future.kind} time ${future.time.toISOString()} is in the future of ${now.toISOString()}`,
    );
  }
  const info = signerInfo(signer);
  if (authority.kind === 'keyless') {
    const mismatch =
      identityProblem(authority, info) ?? githubWorkflowMismatch(authority.githubWorkflow, leaf);
    if (mismatch !== undefined) return reject('IdentityMismatch', mismatch);
  }
  const first = times.find((t) => t.kind === 'transparency-log') ?? times[0];
  return {
    ok: true,
    signer: info,
    ...(first === undefined ? {} : { signedAt: first.time, timeSource: first.kind }),
    transparencyLog: entity.tlogEntries.length > 0,
    ...(leaf === undefined ? {} : { validUntil: leaf.notAfter }),
  };
}

type SignerKey = { readonly ok: true; readonly key: KeyObject } | BundleRejection;

function signerKeyOf(entity: SignedEntity, authority: Authority): SignerKey {
  if (authority.kind === 'key') return { ok: true, key: authority.publicKey };
  if (entity.key.$case !== 'certificate') {
    return reject('CertificateUntrusted', 'the bundle is signed by a bare key, not a certificate');
  }
  try {
    return {
      ok: true,
      key: createPublicKey({ key: entity.key.certificate.publicKey, format: 'der', type: 'spki' }),
    };
  } catch {
    return reject('SignatureInvalid', 'the certificate public key does not parse');
  }
}

type Verified =
  { readonly ok: true; readonly signer: Signer; readonly entity: SignedEntity } | BundleRejection;

function runVerifier(entity: SignedEntity, authority: Authority, thresholds: BundleThresholds): Verified {
  const material = trustMaterialFor(authority);
  const attempt = (e: SignedEntity, t: BundleThresholds): Signer =>
    new Verifier(material, {
      tlogThreshold: t.tlogEntries,
      ctlogThreshold: t.ctlogSCTs,
      timestampThreshold: t.timestamps,
    }).verify(e);
  try {
    return { ok: true, signer: attempt(entity, thresholds), entity };
  } catch (error: unknown) {
    if (!isTransparencyLogFailure(error) || thresholds.tlogEntries > 0) {
      return explainFailure(error, { authorityKind: authority.kind, entity, thresholds });
    }
  }
  // The log is optional here and its entries failed: judge the bundle as if they were absent.
  const unlogged = withoutTransparencyLog(entity);
  try {
    return { ok: true, signer: attempt(unlogged, thresholds), entity: unlogged };
  } catch (error: unknown) {
    return explainFailure(error, { authorityKind: authority.kind, entity: unlogged, thresholds });
  }
}

/**
 * The formats.md §7 leaf profile, beyond what @sigstore/verify checks:
 * exactly one SAN (so the identity matched is the certificate's only one),
 * KeyUsage digitalSignature, EKU including codeSigning. Returns the problem,
 * or undefined when the leaf conforms. Never throws.
 */
export function leafProfileProblem(leaf: X509Certificate): string | undefined {
  try {
    // valueObj is the extension's OCTET STRING; its one child is the DER value (a SEQUENCE).
    const sans = leaf.extension(oidSubjectAltName)?.valueObj.subs[0]?.subs.length ?? 0;
    if (sans !== 1) return `the certificate has ${String(sans)} subject alternative names, not exactly one`;
    if (leaf.extKeyUsage?.digitalSignature !== true) return 'the certificate is not for digital signatures';
    const ekus = leaf.extension(oidExtKeyUsage)?.valueObj.subs[0]?.subs.map((s) => s.toOID()) ?? [];
    if (!ekus.includes(oidCodeSigning)) return 'the certificate is not for code signing';
  } catch {
    return 'the certificate extensions do not parse';
  }
  return undefined;
}

function signerInfo(signer: Signer): SignerInfo {
  const identity = signer.identity?.subjectAlternativeName;
  const issuer = signer.identity?.extensions?.issuer;
  return {
    ...(identity === undefined ? {} : { identity }),
    ...(issuer === undefined ? {} : { issuer }),
  };
}

function identityProblem(authority: KeylessAuthority, signer: SignerInfo): string | undefined {
  if (signer.identity === undefined || !matchesIdentity(authority.identity, signer.identity)) {
    return `identity ${JSON.stringify(signer.identity)} does not match ${describeMatcher(authority.identity)}`;
  }
  if (signer.issuer === undefined || !matchesIdentity(authority.issuer, signer.issuer)) {
    return `issuer ${JSON.stringify(signer.issuer)} does not match ${describeMatcher(authority.issuer)}`;
  }
  return undefined;
}
