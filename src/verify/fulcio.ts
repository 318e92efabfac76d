/**
 * X.509 for keyless signatures (formats.md §7): the certificates of cosign's
 * certificate and chain annotations, and the signer identity a Fulcio leaf
 * carries. Whether that leaf chains to a trusted certificate authority is
 * certificate-chain.ts. Pure: no I/O.
 */
import { X509Certificate as NodeX509, createPublicKey, type KeyObject } from 'node:crypto';
import { ASN1Obj, X509Certificate } from '@sigstore/core';
import { parsePemBlocks } from './keys.js';

const oid = {
  subjectAltName: '2.5.29.17',
  fulcioIssuerV1: '1.3.6.1.4.1.57264.1.1',
  fulcioIssuerV2: '1.3.6.1.4.1.57264.1.8',
  fulcioOtherName: '1.3.6.1.4.1.57264.1.7',
} as const;

/** Who a keyless certificate says signed. */
export interface CertificateIdentity {
  /** Every email, URI and Fulcio username SAN, in certificate order. */
  readonly sans: readonly string[];
  /** OIDC issuer: extension …57264.1.8 (UTF8String), else …1.1 (raw), else absent. */
  readonly issuer?: string;
}

/**
 * The deprecated GitHub Actions extensions (fulcio docs/oid-info.md), which
 * Fulcio still writes for tokens of token.actions.githubusercontent.com: the
 * claims `event_name`, `sha`, `workflow`, `repository` and `ref`, each the raw
 * string as the extension value, with no DER string around it (unlike …1.8
 * onwards). These, and not the generic …1.9–…1.22 that replaced them, are what
 * cosign's `--certificate-github-workflow-*` compare: cosign's
 * `validateCertExtensions` (pkg/cosign/verify.go) and sigstore-go's
 * `CompareExtensions`, with no fallback to the newer extensions.
 */
export const githubWorkflowOids = {
  trigger: '1.3.6.1.4.1.57264.1.2',
  sha: '1.3.6.1.4.1.57264.1.3',
  name: '1.3.6.1.4.1.57264.1.4',
  repository: '1.3.6.1.4.1.57264.1.5',
  ref: '1.3.6.1.4.1.57264.1.6',
} as const;

export type GithubWorkflowClaim = keyof typeof githubWorkflowOids;

/** The GitHub workflow claims a leaf carries; a claim is absent when its extension is. */
export type GithubWorkflowClaims = Readonly<Partial<Record<GithubWorkflowClaim, string>>>;

/**
 * Longest claim value read, in bytes. Real ones are a ref, a repository or a
 * workflow name, far shorter; a longer value counts as absent (it then
 * matches no expected value), as identity inputs are capped in identity.ts.
 */
export const maxGithubWorkflowClaimBytes = 4096;

/**
 * Longest certificate or chain annotation read, in UTF-16 code units. A
 * Fulcio leaf is about 1 KiB of PEM and cosign's chain two certificates; a
 * chain is refused beyond ten certificates anyway (certificate-chain.ts).
 */
export const maxCertificatePemChars = 64 * 1024;

/**
 * Parses PEM text holding exactly `count` certificates ('one') or any number
 * ('many', possibly zero). Returns undefined when a block is not a
 * CERTIFICATE, does not parse as X.509, the count is wrong, or the text is
 * longer than {@link maxCertificatePemChars} (it is then not read at all).
 * Never throws.
 */
export function parseCertificatesPem(text: string, count: 'one' | 'many'): X509Certificate[] | undefined {
  if (text.length > maxCertificatePemChars) {
    return undefined;
  }
  const blocks = parsePemBlocks(text, count === 'one' ? 1 : undefined);
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

const claimOfOid: ReadonlyMap<string, GithubWorkflowClaim> = new Map(
  Object.entries(githubWorkflowOids).map(([claim, id]) => [id, claim as GithubWorkflowClaim]),
);

// fatal: bytes that are not UTF-8 match no flag value (cosign compares bytes, and argv
// arrives here as UTF-8); ignoreBOM: a leading U+FEFF is part of the value, not dropped.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads the deprecated GitHub workflow extensions of a leaf (see
 * {@link githubWorkflowOids}). A claim is left out when its extension is
 * absent, appears more than once (X.509 forbids it; Go's parser, hence
 * cosign, refuses such a certificate), is not an OCTET STRING, is longer than
 * {@link maxGithubWorkflowClaimBytes} or is not UTF-8. Never throws.
 */
export function readGithubWorkflowClaims(cert: X509Certificate): GithubWorkflowClaims {
  const seen = new Map<GithubWorkflowClaim, string | undefined>();
  try {
    for (const ext of cert.extensions) {
      const claim = claimOfOid.get(ext.subs[0]?.toOID() ?? '');
      if (claim === undefined) continue;
      // Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
      const value = ext.subs.at(-1);
      const usable =
        !seen.has(claim) &&
        ext.subs.length >= 2 &&
        value?.tag.isOctetString() === true &&
        !value.tag.constructed &&
        value.value.length <= maxGithubWorkflowClaimBytes;
      seen.set(claim, usable ? decodeUtf8(value.value) : undefined);
    }
  } catch {
    return {}; // @sigstore/core's getters throw on unexpected ASN.1: no claims
  }
  const claims: Partial<Record<GithubWorkflowClaim, string>> = {};
  for (const [claim, value] of seen) {
    if (value !== undefined) claims[claim] = value;
  }
  return claims;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
