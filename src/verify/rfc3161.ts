/**
 * The RFC 3161 timestamp in cosign's legacy layer annotation
 * `dev.sigstore.cosign/rfc3161timestamp` (formats.md §4),
 * `{"SignedRFC3161Timestamp":"<base64 DER TimeStampResp>"}`: a timestamp
 * authority's signed statement that the timestamped bytes existed at a time.
 * Only once it verifies under a timestamp authority of the trust material
 * does that time count as a trusted signing time. The other source of a signing time, the
 * Rekor SET, is rekor-set.ts. Pure: no I/O, never throws.
 */
import { createPublicKey } from 'node:crypto';
import { RFC3161Timestamp } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { decodeBase64 } from './dsse.js';
import { isJsonObject as isObject } from '../base/json.js';

type CertAuthority = TrustMaterial['timestampAuthorities'][number];

/** PKIStatus granted (0) or grantedWithMods (1), RFC 3161 §2.4.2. */
const grantedStatuses: readonly bigint[] = [0n, 1n];

function parseTimestamp(annotation: string): RFC3161Timestamp | undefined {
  try {
    const json: unknown = JSON.parse(annotation);
    const text = isObject(json) ? json['SignedRFC3161Timestamp'] : undefined;
    const der = typeof text === 'string' ? decodeBase64(text) : undefined;
    if (der === undefined) {
      return undefined;
    }
    const timestamp = RFC3161Timestamp.parse(Buffer.from(der));
    return grantedStatuses.includes(timestamp.status) ? timestamp : undefined;
  } catch {
    // @sigstore/core's ASN.1 getters throw on any structural surprise.
    return undefined;
  }
}

/**
 * Verifies the RFC 3161 timestamp annotation over `timestamped` (the raw
 * signature bytes of a `.sig` layer; the envelope blob of an `.att` layer)
 * against the timestamp authorities of the trust material, and returns its
 * time. The TSA is the authority whose leaf (first `certChain` entry) has the
 * timestamp's signer issuer and serial number, whose `validFor` and whose
 * whole chain contain the time, and whose key verifies the token; the time
 * must not be after `now`. Returns undefined otherwise. Never throws.
 */
export function verifyTimestamp(
  annotation: string,
  timestamped: Uint8Array,
  authorities: readonly CertAuthority[],
  now: Date,
): Date | undefined {
  const timestamp = parseTimestamp(annotation);
  if (timestamp === undefined) {
    return undefined;
  }
  try {
    const at = timestamp.signingTime;
    const trusted = authorities.some((ca) => {
      const [leaf] = ca.certChain;
      const signedBy =
        leaf?.serialNumber.equals(timestamp.signerSerialNumber) === true &&
        leaf.issuer.equals(timestamp.signerIssuer);
      const valid =
        ca.validFor.start <= at && at <= ca.validFor.end && ca.certChain.every((c) => c.validForDate(at));
      if (leaf === undefined || !signedBy || !valid) {
        return false;
      }
      try {
        timestamp.verify(
          Buffer.from(timestamped),
          createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' }),
        );
        return true;
      } catch {
        return false; // this authority's key does not verify it; another may
      }
    });
    return trusted && at <= now ? at : undefined;
  } catch {
    return undefined;
  }
}
