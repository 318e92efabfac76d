/**
 * Signature checks over a digest instead of the message: what a Sigstore
 * `messageSignature` needs when only the artifact's digest is known (an image
 * digest, or `sigwatch verify-bundle sha256:<hex>`). Pure: no I/O, no clock.
 *
 * Node's `crypto.verify` always hashes the message itself and has no
 * "prehashed" mode, and @sigstore/verify hands it the artifact bytes (with no
 * artifact it verifies nothing and fails). So:
 * - RSA PKCS#1 v1.5: the public-key operation (`publicDecrypt`) recovers the
 *   DigestInfo, which must equal the expected DER prefix plus the digest.
 * - ECDSA P-256 / P-384: @noble/curves with `prehash: false` (the digest is
 *   the hash value, truncated per SEC 1 bits2int) and `lowS: false` (Go and
 *   OpenSSL signers do not normalise s, and malleability is harmless here:
 *   the signature is not an identifier).
 * Other key types (Ed25519, RSA-PSS) sign the message itself, not a digest:
 * they are `unsupported` here rather than silently invalid.
 */
import { constants, publicDecrypt, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Nist from '@noble/curves/nist.js';

/** `unsupported`: the key type cannot sign a digest (the caller must say so, not call it forged). */
export type PrehashVerification = 'valid' | 'invalid' | 'unsupported';

/** The digests a `messageSignature` can carry that we check (protobuf-specs HashAlgorithm). */
export type PrehashAlgorithm = 'sha256' | 'sha384' | 'sha512';

/** DER DigestInfo prefixes (RFC 8017 §9.2 note 1). */
const digestInfoPrefix: Readonly<Record<PrehashAlgorithm, string>> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

/**
 * @noble/curves, loaded on first use: it takes about 20 ms to load, which
 * every `sigwatch verify` paid at start-up, and only `messageSignature`
 * bundles signed with ECDSA need it (image signatures are DSSE, checked by
 * Node's crypto). `require` of an ES module is synchronous since Node 22.12,
 * so this function and its callers stay synchronous.
 */
let nist: typeof Nist | undefined;
function ecdsaCurve(crv: string | undefined): typeof Nist.p256 | undefined {
  if (crv !== 'P-256' && crv !== 'P-384') return undefined;
  nist ??= createRequire(import.meta.url)('@noble/curves/nist.js') as typeof Nist;
  return crv === 'P-256' ? nist.p256 : nist.p384;
}

/**
 * Verifies `signature` (ECDSA: ASN.1 DER; RSA: PKCS#1 v1.5) over the message
 * whose `algorithm` digest is `digest`, with `key`. Never throws: malformed
 * input is `invalid`; a key type that cannot sign a digest is `unsupported`.
 */
export function verifyPrehashed(
  key: KeyObject,
  algorithm: PrehashAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): PrehashVerification {
  if (key.asymmetricKeyType === 'rsa') {
    return verifyRsa(key, algorithm, digest, signature) ? 'valid' : 'invalid';
  }
  if (key.asymmetricKeyType !== 'ec') return 'unsupported';
  const jwk = key.export({ format: 'jwk' });
  const curve = ecdsaCurve(jwk.crv);
  if (curve === undefined || jwk.x === undefined || jwk.y === undefined) return 'unsupported';
  // SEC 1 uncompressed point: 0x04 || X || Y.
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  try {
    return curve.verify(signature, digest, point, { prehash: false, format: 'der', lowS: false })
      ? 'valid'
      : 'invalid';
  } catch {
    return 'invalid'; // malformed DER or point: registry data never throws
  }
}

function verifyRsa(
  key: KeyObject,
  algorithm: PrehashAlgorithm,
  digest: Uint8Array,
  signature: Uint8Array,
): boolean {
  let recovered: Buffer;
  try {
    recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false; // wrong length or padding: not a signature by this key
  }
  const expected = Buffer.concat([Buffer.from(digestInfoPrefix[algorithm], 'hex'), digest]);
  return recovered.equals(expected);
}
