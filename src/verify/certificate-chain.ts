/**
 * The chain from a keyless signature's leaf certificate to a certificate
 * authority of the trust material (formats.md §7); the identity the leaf
 * carries is read in fulcio.ts. Pure: no I/O; time arrives as a parameter.
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
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

const oid = {
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
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

/** What {@link verifyCertificateChain} found: the path from the leaf to a trusted CA, or why there is none. */
export type ChainVerification =
  | { readonly ok: true; readonly path: readonly X509Certificate[] }
  | {
      readonly ok: false;
      readonly reason: 'CertificateUntrusted' | 'CertificateExpired';
      readonly message: string;
    };

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
