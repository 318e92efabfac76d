/**
 * Embedded signed certificate timestamps (RFC 6962) of a Fulcio leaf.
 * Certificates without an SCT from a trusted CT log must not be trusted
 * (formats.md §7): a leaf that was never logged could have been issued in
 * secret. @sigstore/verify checks SCTs for bundles; this does the same for
 * legacy `.sig`/`.att` certificates, through @sigstore/core's public API.
 * Pure: no I/O, no clock.
 */
import {
  ByteStream,
  crypto,
  EXTENSION_OID_SCT,
  X509SCTExtension,
  type X509Certificate,
} from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';

type TLogAuthority = TrustMaterial['ctlogs'][number];

/**
 * Counts the leaf's SCTs that verify under a CT log of `ctlogs` valid at the
 * SCT's time. `issuer` is the certificate that signed the leaf (its key hash
 * is part of the signed PreCert). Never throws: malformed SCT data counts as
 * no valid SCT.
 */
export function countValidScts(
  leaf: X509Certificate,
  issuer: X509Certificate,
  ctlogs: readonly TLogAuthority[],
): number {
  try {
    // The SCT signs the TBS certificate without the SCT extension itself, so
    // remove it from a copy and re-encode (RFC 6962 §3.2, PreCert).
    const clone = leaf.clone();
    const at = clone.extensions.findIndex((e) => e.subs[0]?.toOID() === EXTENSION_OID_SCT);
    const ext = clone.extensions[at];
    if (ext === undefined) return 0;
    const scts = new X509SCTExtension(ext).signedCertificateTimestamps;
    clone.extensions.splice(at, 1);
    const preCert = new ByteStream();
    preCert.appendView(crypto.digest('sha256', issuer.publicKey));
    const tbs = clone.tbsCertificate.toDER();
    preCert.appendUint24(tbs.length);
    preCert.appendView(tbs);
    return scts.filter((sct) =>
      ctlogs.some(
        (log) =>
          log.logID.equals(sct.logID) &&
          log.validFor.start <= sct.datetime &&
          sct.datetime <= log.validFor.end &&
          sct.verify(preCert.buffer, log.publicKey),
      ),
    ).length;
  } catch {
    return 0;
  }
}
