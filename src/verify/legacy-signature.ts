/**
 * Legacy cosign signatures: one layer of a `sha256-<hex>.sig` manifest
 * (formats.md §4), judged against one authority. Pure: the registry layer has
 * already fetched the blob and checked it against the layer digest; time
 * arrives as `now`. Registry-supplied data never makes this throw: anything
 * wrong with it is a rejection with a reason.
 *
 * Steps, in order; the first failure decides the reason:
 *  1. Structure: the signature annotation is present and base64, the payload
 *     is a simple-signing document → else `SignatureInvalid`.
 *  2. Signer: the authority's key; or, for keyless, the certificate
 *     annotation (missing → `CertificateUntrusted`: nothing chains to the CA;
 *     unparsable, like an unparsable chain → `SignatureInvalid`).
 *  3. Cryptography over the exact payload bytes. Under a key authority a
 *     well-formed signature that does not verify is `KeyMismatch`: "another
 *     key" cannot be told from "tampered payload", and step 1 has already
 *     sent structurally corrupt layers to `SignatureInvalid`. Under keyless it
 *     is `SignatureInvalid`: the layer's own certificate does not fit it.
 *  4. Transparency log and signing time: a `dev.sigstore.cosign/bundle` SET
 *     that verifies under the trust material and names this signature,
 *     payload and signer gives a trusted time (else an RFC 3161 one, below).
 *     A SET that fails counts as absent (an attacker able to write it could
 *     as well delete it); if the authority requires the log →
 *     `TransparencyLogMissing`.
 *  5. Keyless: chain to a trusted CA at the signing time (→
 *     `CertificateUntrusted` / `CertificateExpired`), an embedded SCT from a
 *     CT log of the trust root when it lists any (→ `CertificateUntrusted`),
 *     then SAN, issuer and any expected GitHub workflow claims (→
 *     `IdentityMismatch`). Without a trusted time the chain is judged at
 *     `now`, which only a log-less authority reaches: a Fulcio leaf is then
 *     expired after 10 minutes (`CertificateExpired`), a long-lived private
 *     PKI leaf is accepted while valid.
 *  6. The payload names this image: `docker-manifest-digest` equals the
 *     image digest → else `DigestMismatch`, reported only for signatures that
 *     are otherwise fully valid. `docker-reference` is not checked (the spec
 *     says it is ignored; Sigwatch binds signatures to digests).
 *
 * Signing time: the SET's integrated time; failing that, a verified
 * `dev.sigstore.cosign/rfc3161timestamp` over the raw signature (a TSA time
 * dates the signature for step 5 but does not satisfy a log requirement).
 */
import type { KeyObject } from 'node:crypto';
import type { X509Certificate } from '@sigstore/core';
import type { Digest } from '../base/digest.js';
import type { DefiniteReason } from '../base/reasons.js';
import type { Authority } from './authority.js';
import { decodeBase64 } from './dsse.js';
import { verifyCertificateChain } from './certificate-chain.js';
import { countValidScts } from './sct.js';
import {
  certificateKey,
  maxCertificatePemChars,
  parseCertificatesPem,
  readCertificateIdentity,
} from './fulcio.js';
import { githubWorkflowMismatch, matchesIdentity } from './identity.js';
import { spkiDer, verifyMessage } from './keys.js';
import { checkEntryBody, parseCosignBundle, verifySet, type EntryExpectation } from './rekor-set.js';
import type { RejectedSignature, TimeSource, VerifiedSignature } from './result.js';
import { verifyTimestamp } from './rfc3161.js';
import { parseSimpleSigning, type SimpleSigningPayload } from './simple-signing.js';

/** Layer annotations cosign writes (formats.md §4). */
export const cosignAnnotations = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** One `.sig` layer: the payload blob (already digest-checked) and the layer annotations. */
export interface LegacyLayer {
  readonly payload: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A verified legacy signature also returns the payload it verified, for annotation policies. */
export type LegacySignatureResult =
  RejectedSignature | (VerifiedSignature & { readonly payload: SimpleSigningPayload });

/** A rejection before it is stamped with the authority and format. */
export interface Rejection {
  readonly ok: false;
  readonly reason: DefiniteReason;
  readonly message: string;
}

const reject = (reason: DefiniteReason, message: string): Rejection => ({ ok: false, reason, message });

/** Whose key checks the signature, and the DER forms a log entry may name it by. */
export interface LegacySigner {
  readonly key: KeyObject;
  readonly ders: readonly Buffer[];
  /** Key only: the SPKI DER a log entry's certificate may carry instead (see {@link EntryExpectation}). */
  readonly signerKey?: Buffer;
  /** Keyless only: the leaf and the untrusted intermediates from the chain annotation. */
  readonly certificate?: { readonly leaf: X509Certificate; readonly chain: readonly X509Certificate[] };
}

/**
 * Step 2: the signer of a legacy layer under `authority` (see the module
 * comment for the reasons). Shared with `.att` layers. The certificate and
 * chain annotations are read only for a keyless authority, and only up to a
 * bounded size: under a key authority they are never parsed (a log entry
 * naming a certificate for the key is recognised by its key, rekor-set.ts).
 */
export function resolveSigner(
  annotations: Readonly<Record<string, string>>,
  authority: Authority,
): LegacySigner | Rejection {
  if (authority.kind === 'key') {
    const keyDer = spkiDer(authority.publicKey);
    return { key: authority.publicKey, ders: [keyDer], signerKey: keyDer };
  }
  const certText = annotations[cosignAnnotations.certificate];
  if (certText === undefined) {
    return reject('CertificateUntrusted', 'the layer has no certificate to chain to the trusted CA');
  }
  const chainText = annotations[cosignAnnotations.chain];
  if (certText.length > maxCertificatePemChars || (chainText?.length ?? 0) > maxCertificatePemChars) {
    return reject(
      'SignatureInvalid',
      `the certificate or chain annotation is longer than ${String(maxCertificatePemChars)} characters`,
    );
  }
  const leaf = parseCertificatesPem(certText, 'one')?.[0];
  const chain = chainText === undefined ? [] : parseCertificatesPem(chainText, 'many');
  if (leaf === undefined || chain === undefined) {
    return reject('SignatureInvalid', 'the certificate or chain annotation is not PEM X.509');
  }
  let key: KeyObject;
  try {
    key = certificateKey(leaf);
  } catch {
    return reject('SignatureInvalid', 'the certificate public key does not parse');
  }
  return { key, ders: [leaf.root.toDER()], certificate: { leaf, chain } };
}

/** The content a signature covers, as the log and a timestamp authority see it. */
export interface SignedContent {
  /** What a Rekor entry must name (its signers come from the resolved signer). */
  readonly entry: Omit<EntryExpectation, 'signers' | 'signerKey'>;
  /** The bytes an RFC 3161 timestamp covers: the raw signature (`.sig`) or the envelope blob (`.att`). */
  readonly timestamped: Uint8Array;
}

interface SigningTime {
  readonly signedAt?: Date;
  readonly timeSource?: TimeSource;
  readonly transparencyLog: boolean;
}

/**
 * Step 4: a trusted signing time. The SET's integrated time when the SET
 * verifies and names this entry; otherwise a verified RFC 3161 time, which
 * dates the signature but is no transparency-log entry.
 */
function establishTime(
  annotations: Readonly<Record<string, string>>,
  content: SignedContent,
  signer: LegacySigner,
  authority: Authority,
  now: Date,
): SigningTime {
  const trust = authority.trust;
  if (trust === undefined) {
    return { transparencyLog: false };
  }
  const setText = annotations[cosignAnnotations.bundle];
  const bundle = setText === undefined ? undefined : parseCosignBundle(setText);
  if (bundle !== undefined) {
    const set = verifySet(bundle, trust.material.tlogs, now);
    if (
      set.ok &&
      checkEntryBody(bundle.body, { ...content.entry, signers: signer.ders, signerKey: signer.signerKey }).ok
    ) {
      return { signedAt: set.integratedTime, timeSource: 'transparency-log', transparencyLog: true };
    }
  }
  const tsaText = annotations[cosignAnnotations.timestamp];
  const tsaTime =
    tsaText === undefined
      ? undefined
      : verifyTimestamp(tsaText, content.timestamped, trust.material.timestampAuthorities, now);
  return tsaTime === undefined
    ? { transparencyLog: false }
    : { signedAt: tsaTime, timeSource: 'timestamp-authority', transparencyLog: false };
}

/**
 * Steps 4 and 5 for a signature whose cryptography has verified: log and
 * signing time, then (keyless) chain and identity. Returns the verified
 * result without payload-specific fields. Shared with `.att` layers.
 */
export function checkAuthority(
  signer: LegacySigner,
  annotations: Readonly<Record<string, string>>,
  content: SignedContent,
  authority: Authority,
  now: Date,
): VerifiedSignature | Rejection {
  const time = establishTime(annotations, content, signer, authority, now);
  if (authority.requireTransparencyLog && !time.transparencyLog) {
    return reject('TransparencyLogMissing', 'no verifiable transparency-log entry (SET) for this signature');
  }
  if (authority.kind === 'key') {
    return { ok: true, authority: authority.name, format: 'legacy', signer: {}, ...time };
  }
  const certificate = signer.certificate;
  if (certificate === undefined) {
    return reject('CertificateUntrusted', 'no certificate');
  }
  const at = time.signedAt ?? now;
  const chain = verifyCertificateChain(
    certificate.leaf,
    certificate.chain,
    authority.trust.material.certificateAuthorities,
    at,
  );
  if (!chain.ok) {
    const untimed = time.signedAt === undefined ? ' (no trusted signing time: judged at now)' : '';
    return reject(chain.reason, chain.message + untimed);
  }
  // A trust root that lists CT logs requires the leaf to have been logged in one.
  const ctlogs = authority.trust.material.ctlogs;
  const issuerCert = chain.path[1];
  if (
    ctlogs.length > 0 &&
    (issuerCert === undefined || countValidScts(certificate.leaf, issuerCert, ctlogs) === 0)
  ) {
    return reject(
      'CertificateUntrusted',
      'the certificate has no valid SCT from a trusted certificate-transparency log',
    );
  }
  const identity = readCertificateIdentity(certificate.leaf);
  const san = identity.sans.find((s) => matchesIdentity(authority.identity, s));
  const issuer = identity.issuer;
  if (san === undefined || issuer === undefined || !matchesIdentity(authority.issuer, issuer)) {
    return reject(
      'IdentityMismatch',
      `certificate identity ${JSON.stringify(identity)} does not match the authority`,
    );
  }
  const workflow = githubWorkflowMismatch(authority.githubWorkflow, certificate.leaf);
  if (workflow !== undefined) return reject('IdentityMismatch', workflow);
  return {
    ok: true,
    authority: authority.name,
    format: 'legacy',
    signer: { identity: san, issuer },
    ...time,
    validUntil: certificate.leaf.notAfter,
  };
}

/** Stamps a rejection with the authority and the legacy format. */
export function rejectedBy(authority: Authority, rejection: Rejection): RejectedSignature {
  return { ...rejection, authority: authority.name, format: 'legacy' };
}

/**
 * Verifies one legacy `.sig` layer for `imageDigest` under `authority` (steps
 * in the module comment). Never throws on layer content; `now` bounds the
 * SET's integrated time and judges certificates when no trusted time exists.
 */
export function verifyLegacySignature(
  layer: LegacyLayer,
  imageDigest: Digest,
  authority: Authority,
  now: Date,
): LegacySignatureResult {
  const sigText = layer.annotations[cosignAnnotations.signature];
  const signature = sigText === undefined ? undefined : decodeBase64(sigText);
  if (signature === undefined || signature.length === 0) {
    return rejectedBy(authority, reject('SignatureInvalid', 'the layer has no base64 signature annotation'));
  }
  const parsed = parseSimpleSigning(layer.payload);
  if (!parsed.ok) {
    return rejectedBy(
      authority,
      reject('SignatureInvalid', `the payload is not a simple-signing document: ${parsed.problem}`),
    );
  }
  const signer = resolveSigner(layer.annotations, authority);
  if ('reason' in signer) {
    return rejectedBy(authority, signer);
  }
  if (!verifyMessage(signer.key, layer.payload, signature)) {
    return signer.certificate === undefined
      ? rejectedBy(authority, reject('KeyMismatch', 'the signature does not verify with the authority key'))
      : rejectedBy(
          authority,
          reject('SignatureInvalid', 'the signature does not verify with its certificate key'),
        );
  }
  const verified = checkAuthority(
    signer,
    layer.annotations,
    { entry: { content: 'message', signature, payload: layer.payload }, timestamped: signature },
    authority,
    now,
  );
  if (!verified.ok) {
    return rejectedBy(authority, verified);
  }
  if (parsed.payload.dockerManifestDigest !== imageDigest) {
    return rejectedBy(
      authority,
      reject(
        'DigestMismatch',
        `the payload signs ${parsed.payload.dockerManifestDigest}, not ${imageDigest}`,
      ),
    );
  }
  return { ...verified, payload: parsed.payload };
}
