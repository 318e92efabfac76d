/**
 * Trust material: Sigstore `trusted_root.json` documents (public-good or an
 * admin's own) turned into @sigstore/verify's TrustMaterial.
 *
 * Stricter than the library: @sigstore/verify treats a transparency log, CT
 * log or CA without `validFor` as valid for all time, and skips certificates
 * it cannot use. Here a key without a validity start or a certificate that
 * does not parse makes the whole document invalid (`TrustRootInvalid`), so a
 * typo in trust material can never widen what is trusted.
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { VerifyError } from './errors.js';

export interface LoadedTrustRoot {
  readonly material: TrustMaterial;
  /** The parsed document, for reporting (which CAs and logs are trusted). */
  readonly root: TrustedRoot;
}

const trustedRootMediaTypes = [
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
];

function invalid(message: string, cause?: unknown): VerifyError {
  return new VerifyError('TrustRootInvalid', message, cause === undefined ? undefined : { cause });
}

/**
 * Parses and checks a trusted_root.json document (already JSON-parsed).
 * @throws VerifyError `TrustRootInvalid` naming the offending entry.
 */
export function loadTrustedRoot(json: unknown): LoadedTrustRoot {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('trusted root is not a JSON object');
  }
  const mediaType = (json as { mediaType?: unknown }).mediaType;
  if (typeof mediaType !== 'string' || !trustedRootMediaTypes.includes(mediaType)) {
    throw invalid(`trusted root has unsupported mediaType ${JSON.stringify(mediaType)}`);
  }
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(json);
  } catch (error: unknown) {
    throw invalid('trusted root does not match the protobuf-specs schema', error);
  }
  root.tlogs.forEach((log, i) => {
    checkKey(`tlogs[${String(i)}]`, log.publicKey);
  });
  root.ctlogs.forEach((log, i) => {
    checkKey(`ctlogs[${String(i)}]`, log.publicKey);
  });
  root.certificateAuthorities.forEach((ca, i) => {
    checkCa(`certificateAuthorities[${String(i)}]`, ca);
  });
  root.timestampAuthorities.forEach((ca, i) => {
    checkCa(`timestampAuthorities[${String(i)}]`, ca);
  });
  if (
    root.certificateAuthorities.length === 0 &&
    root.tlogs.length === 0 &&
    root.timestampAuthorities.length === 0
  ) {
    throw invalid('trusted root trusts nothing (no CAs, logs or timestamp authorities)');
  }
  return { material: toTrustMaterial(root), root };
}

type TrustedRootKey = TrustedRoot['tlogs'][number]['publicKey'];
type TrustedRootCa = TrustedRoot['certificateAuthorities'][number];

function checkKey(path: string, key: TrustedRootKey): void {
  if (key?.rawBytes === undefined || key.rawBytes.length === 0) {
    throw invalid(`${path}.publicKey has no rawBytes`);
  }
  if (key.validFor?.start === undefined) {
    throw invalid(`${path}.publicKey has no validFor.start: a key without validity bounds is not trusted`);
  }
}

function checkCa(path: string, ca: TrustedRootCa): void {
  if (ca.validFor?.start === undefined) {
    throw invalid(`${path} has no validFor.start`);
  }
  const certs = ca.certChain?.certificates ?? [];
  if (certs.length === 0) {
    throw invalid(`${path} has an empty certChain`);
  }
  certs.forEach((c, j) => {
    try {
      new NodeX509(c.rawBytes);
    } catch (error: unknown) {
      throw invalid(
        `${path}.certChain.certificates[${String(j)}] is not a parsable X.509 certificate`,
        error,
      );
    }
  });
}
