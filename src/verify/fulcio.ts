/**
 * X.509 for keyless signatures (formats.md §7): the signer identity a Fulcio
 * leaf carries, and the chain from that leaf to a certificate authority of
 * the trust material. Pure: no I/O; time arrives as a parameter.
 *
 * Time rule: the chain is built without looking at validity periods, then a
 * single instant — the trusted signing time (SET-verified Rekor time or a
 * verified RFC 3161 time) — must lie inside the validity of the leaf and of
 * every issuing CA, and inside the trust root's `validFor` of that CA. Fulcio
 * leaves live 10 minutes, so judging them against "now" would reject every
 * keyless signature, and judging them against an unauthenticated time would
 * let a stolen short-lived key sign forever.
 *
 * Not checked here: embedded SCTs (the certificate-transparency promise),
 * revocation (Fulcio has none), name constraints (a CA carrying critical
 * constraints is rejected rather than half-understood).
 */
import { X509Certificate as NodeX509, createPublicKey, type KeyObject } from 'node:crypto';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { parsePemBlocks } from './keys.js';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

const oid = {
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
  fulcioOtherName: '1.3.6.1.4.1.57264.1.7',
} as const;

/** Critical extensions this module understands; any other critical one makes a certificate unusable (RFC 5280 §4.2). */
const understoodCritical: ReadonlySet<string> = new Set([
  oid.keyUsage,
  oid.subjectAltName,
  oid.basicConstraints,
  oid.extKeyUsage,
]);

/** Longest leaf-to-anchor path tried; Fulcio's is leaf → intermediate → root. */
const maxPathLength = 6;

/** More untrusted chain certificates than this are refused outright (cosign's chain holds two). */
const maxSuppliedCertificates = 10;

/** Who a keyless certificate says signed. */
export interface CertificateIdentity {
  /** Every email, URI and Fulcio username SAN, in certificate order. */
  readonly sans: readonly string[];
  /** OIDC issuer: extension …57264.1.8 (UTF8String), else …1.1 (raw), else absent. */
  readonly issuer?: string;
}

export type ChainVerification =
  | { readonly ok: true; readonly path: readonly X509Certificate[] }
  | {
      readonly ok: false;
      readonly reason: 'CertificateUntrusted' | 'CertificateExpired';
      readonly message: string;
    };

/**
 * Parses PEM text holding exactly `count` certificates ('one') or any number
 * ('many', possibly zero). Returns undefined when a block is not a
 * CERTIFICATE, does not parse as X.509, or the count is wrong. Never throws.
 */
export function parseCertificatesPem(text: string, count: 'one' | 'many'): X509Certificate[] | undefined {
  const blocks = parsePemBlocks(text);
  if (blocks === undefined || (count === 'one' && blocks.length !== 1)) {
    return undefined;
  }
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    if (block.label !== 'CERTIFICATE') {
      return undefined;
    }
    try {
      // Node's parser (OpenSSL) is the strict gate; @sigstore/core's is the one the trust material uses.
      new NodeX509(block.der);
      certs.push(X509Certificate.parse(Buffer.from(block.der)));
    } catch {
      return undefined;
    }
  }
  return certs;
}

/** The public key of a certificate, for verifying what its holder signed. */
export function certificateKey(cert: X509Certificate): KeyObject {
  return createPublicKey({ key: cert.publicKey, format: 'der', type: 'spki' });
}

function generalNames(cert: X509Certificate): ASN1Obj[] {
  const ext = cert.extension(oid.subjectAltName);
  if (ext === undefined) {
    return [];
  }
  try {
    return ASN1Obj.parseBuffer(Buffer.from(ext.value)).subs;
  } catch {
    return [];
  }
}

function otherNameValue(name: ASN1Obj): string | undefined {
  // OtherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
  try {
    if (name.subs[0]?.toOID() !== oid.fulcioOtherName) {
      return undefined;
    }
    const inner = name.subs[1]?.subs[0];
    return inner?.tag.number === 0x0c ? inner.value.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads the SANs and the OIDC issuer of a leaf. The issuer comes from the v2
 * extension (a DER UTF8String) and falls back to the deprecated v1 one (the
 * raw string as extension value), as @sigstore/verify does. Never throws.
 */
export function readCertificateIdentity(cert: X509Certificate): CertificateIdentity {
  try {
    return identityOf(cert);
  } catch {
    return { sans: [] }; // @sigstore/core's getters throw on unexpected ASN.1: no identity
  }
}

function identityOf(cert: X509Certificate): CertificateIdentity {
  const sans: string[] = [];
  for (const name of generalNames(cert)) {
    if (name.tag.isContextSpecific(1) || name.tag.isContextSpecific(6)) {
      sans.push(name.value.toString('utf8')); // rfc822Name, uniformResourceIdentifier
    } else if (name.tag.isContextSpecific(0)) {
      const value = otherNameValue(name);
      if (value !== undefined) {
        sans.push(value);
      }
    }
  }
  const issuer = issuerV2(cert) ?? cert.extension(oid.fulcioIssuerV1)?.value.toString('utf8');
  return issuer === undefined ? { sans } : { sans, issuer };
}

function issuerV2(cert: X509Certificate): string | undefined {
  const ext = cert.extension(oid.fulcioIssuerV2);
  if (ext === undefined) {
    return undefined;
  }
  try {
    const value = ASN1Obj.parseBuffer(Buffer.from(ext.value));
    return value.tag.number === 0x0c ? value.value.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** EKU OIDs, or undefined when the extension is absent (@types/node omits that case; OpenSSL returns undefined). */
function extendedKeyUsage(node: NodeX509): readonly string[] | undefined {
  const eku: readonly string[] | undefined = node.keyUsage;
  return eku;
}

const nodeCache = new WeakMap<X509Certificate, NodeX509>();

function asNode(cert: X509Certificate): NodeX509 {
  let node = nodeCache.get(cert);
  if (node === undefined) {
    node = new NodeX509(cert.root.toDER());
    nodeCache.set(cert, node);
  }
  return node;
}

function hasUnknownCriticalExtension(cert: X509Certificate): boolean {
  return cert.extensions.some((ext) => {
    const critical = ext.subs.length === 3 && ext.subs[1]?.toBoolean() === true;
    return critical && !understoodCritical.has(ext.subs[0]?.toOID() ?? '');
  });
}

function isMarkedCa(cert: X509Certificate): boolean {
  try {
    return cert.extBasicConstraints?.isCA === true;
  } catch {
    return true; // an unreadable basicConstraints is not evidence of a leaf
  }
}

/** Why a leaf cannot sign code, or undefined when it can. */
function leafProblem(leaf: X509Certificate): string | undefined {
  const node = asNode(leaf);
  // basicConstraints cA, whatever the key usage (Node's `ca` also demands keyCertSign).
  if (node.ca || isMarkedCa(leaf)) {
    return 'the signing certificate is a CA certificate';
  }
  if (leaf.extKeyUsage !== undefined && !leaf.extKeyUsage.digitalSignature) {
    return 'the signing certificate lacks the digitalSignature key usage';
  }
  if (!(extendedKeyUsage(node) ?? []).includes(oid.codeSigning)) {
    return 'the signing certificate lacks the codeSigning extended key usage';
  }
  return hasUnknownCriticalExtension(leaf)
    ? 'the signing certificate has an unknown critical extension'
    : undefined;
}

/**
 * Whether `issuer` can have issued `subject`: OpenSSL's name, key-identifier
 * and keyCertSign checks, a CA basic constraint, an EKU (when present) that
 * allows code signing, no unknown critical extension, and a valid signature.
 */
function issues(issuer: X509Certificate, subject: X509Certificate): boolean {
  const node = asNode(issuer);
  const eku = extendedKeyUsage(node);
  if (
    !node.ca ||
    (eku !== undefined && !eku.includes(oid.codeSigning) && !eku.includes(oid.anyExtendedKeyUsage))
  ) {
    return false;
  }
  try {
    return (
      asNode(subject).checkIssued(node) &&
      !hasUnknownCriticalExtension(issuer) &&
      asNode(subject).verify(node.publicKey)
    );
  } catch {
    return false;
  }
}

function isSelfSigned(cert: X509Certificate): boolean {
  return issues(cert, cert);
}

/**
 * Breadth-first search from the leaf to any anchor; returns the shortest
 * path including the anchor. Each certificate is expanded once, so a hostile
 * chain annotation of mutually cross-signed certificates costs at most
 * pool² issuer checks, not pool^depth.
 */
function findPath(
  leaf: X509Certificate,
  pool: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): X509Certificate[] | undefined {
  const seen = new Set<X509Certificate>([leaf]);
  let frontier: X509Certificate[][] = [[leaf]];
  while (frontier.length > 0) {
    const next: X509Certificate[][] = [];
    for (const path of frontier) {
      const current = path[path.length - 1] ?? leaf;
      for (const candidate of pool) {
        if (seen.has(candidate) || !issues(candidate, current)) {
          continue;
        }
        const extended = [...path, candidate];
        if (anchors.some((a) => a.equals(candidate))) {
          return extended;
        }
        seen.add(candidate);
        if (extended.length < maxPathLength) {
          next.push(extended);
        }
      }
    }
    frontier = next;
  }
  return undefined;
}

/** Extends a path that ends at an anchor through the CA's own chain up to its root, so every issuer's validity is judged. */
function completeToRoot(path: X509Certificate[], anchors: readonly X509Certificate[]): X509Certificate[] {
  let top = path[path.length - 1];
  while (top !== undefined && !isSelfSigned(top) && path.length <= maxPathLength) {
    const current: X509Certificate = top;
    const next = anchors.find((a) => !path.some((p) => p.equals(a)) && issues(a, current));
    if (next === undefined) {
      break;
    }
    path.push(next);
    top = next;
  }
  return path;
}

/** pathLenConstraint: a CA at position i (leaf = 0) may have at most pathLen CAs below it. */
function respectsPathLength(path: readonly X509Certificate[]): boolean {
  return path.every((cert, i) => {
    if (i === 0) {
      return true;
    }
    try {
      const limit = cert.extBasicConstraints?.pathLenConstraint;
      return limit === undefined || BigInt(i - 1) <= limit;
    } catch {
      return false;
    }
  });
}

function within(validFor: CertAuthority['validFor'], at: Date): boolean {
  return validFor.start <= at && at <= validFor.end;
}

/**
 * Validates `leaf` (with the untrusted intermediates `supplied`, e.g. the
 * cosign chain annotation) against the certificate authorities of the trust
 * material, as of `signingTime`. A CA's whole `certChain` is trusted;
 * supplied certificates only help to reach it.
 *
 * - `CertificateUntrusted`: the leaf is not a code-signing leaf, or no path
 *   leads to a CA whose trust-root `validFor` contains `signingTime`.
 * - `CertificateExpired`: a path exists, but `signingTime` lies outside the
 *   validity of the leaf or of an issuer on it.
 * Never throws.
 */
export function verifyCertificateChain(
  leaf: X509Certificate,
  supplied: readonly X509Certificate[],
  authorities: readonly CertAuthority[],
  signingTime: Date,
): ChainVerification {
  try {
    return judgeChain(leaf, supplied, authorities, signingTime);
  } catch {
    // @sigstore/core's getters throw on ASN.1 they do not expect; what cannot be read is not trusted.
    return { ok: false, reason: 'CertificateUntrusted', message: 'a certificate could not be interpreted' };
  }
}

function judgeChain(
  leaf: X509Certificate,
  supplied: readonly X509Certificate[],
  authorities: readonly CertAuthority[],
  signingTime: Date,
): ChainVerification {
  const problem =
    supplied.length > maxSuppliedCertificates
      ? `more than ${String(maxSuppliedCertificates)} chain certificates`
      : leafProblem(leaf);
  if (problem !== undefined) {
    return { ok: false, reason: 'CertificateUntrusted', message: problem };
  }
  let expired: X509Certificate | undefined;
  for (const ca of authorities) {
    const found = findPath(leaf, [...ca.certChain, ...supplied], ca.certChain);
    if (found === undefined || !within(ca.validFor, signingTime)) {
      continue;
    }
    const path = completeToRoot(found, ca.certChain);
    if (!respectsPathLength(path)) {
      continue;
    }
    const outside = path.find((cert) => !cert.validForDate(signingTime));
    if (outside === undefined) {
      return { ok: true, path };
    }
    expired = outside;
  }
  if (expired !== undefined) {
    const which = expired === leaf ? 'the signing certificate' : 'an issuing CA certificate';
    return {
      ok: false,
      reason: 'CertificateExpired',
      message: `${which} is not valid at the signing time ${signingTime.toISOString()}`,
    };
  }
  return {
    ok: false,
    reason: 'CertificateUntrusted',
    message: `no chain to a certificate authority trusted at ${signingTime.toISOString()}`,
  };
}
