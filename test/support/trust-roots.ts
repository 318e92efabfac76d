/**
 * Trusted roots for unit tests: trusted_root.json documents built around test
 * keys and certificates, and the public-good production snapshot of the
 * corpus. Both go through the same loadTrustedRoot as a root in production,
 * so a test root is checked exactly as a real one.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../src/verify/trust.js';
import { productionTrustedRoot, readJson } from './testdata.js';

/** Where every entry's `validFor` starts unless a test says otherwise (before every corpus signature). */
const defaultStart = '2021-01-01T00:00:00Z';

/** The DER of every PEM block in `pem`, in order, whatever its label. */
export function pemDers(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN [A-Z ]+-----([^-]+)-----END/g)].map((m) =>
    Buffer.from(m[1] ?? '', 'base64'),
  );
}

/** A public key as DER SPKI: a KeyObject, or the first block of PEM text. */
function spki(key: KeyObject | string): Buffer {
  return typeof key === 'string'
    ? (pemDers(key)[0] ?? Buffer.alloc(0))
    : key.export({ type: 'spki', format: 'der' });
}

/** A trusted_root.json tlog entry for a public key valid from `start`; the log ID is the SHA-256 of its DER. */
export function tlogJson(key: KeyObject | string, start = defaultStart): unknown {
  const der = spki(key);
  return {
    baseUrl: 'https://rekor.example',
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: der.toString('base64'),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFor: { start },
    },
    logId: { keyId: createHash('sha256').update(der).digest('base64') },
  };
}

/** A trusted_root.json CA entry trusting every certificate of a PEM chain, valid from `start`. */
function caJson(chain: string, start: string): unknown {
  return {
    subject: { organization: 'test', commonName: 'test' },
    uri: 'https://fulcio.example',
    certChain: { certificates: pemDers(chain).map((der) => ({ rawBytes: der.toString('base64') })) },
    validFor: { start },
  };
}

export interface TrustRootParts {
  /** Certificate authorities, each the PEM text of its whole chain. */
  readonly cas?: readonly string[];
  /** Transparency-log public keys: KeyObjects or PEM text. */
  readonly tlogs?: readonly (KeyObject | string)[];
  /** Start of every entry's `validFor`; no entry ends. */
  readonly start?: string;
}

/** A trusted root of just these CAs and transparency logs: no CT logs, no timestamp authorities. */
export function trustRoot(parts: TrustRootParts): LoadedTrustRoot {
  const start = parts.start ?? defaultStart;
  return loadTrustedRoot({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: (parts.cas ?? []).map((chain) => caJson(chain, start)),
    tlogs: (parts.tlogs ?? []).map((key) => tlogJson(key, start)),
    ctlogs: [],
    timestampAuthorities: [],
  });
}

/** A trusted root holding only transparency-log keys, valid from `start`. */
export function tlogRoot(keys: readonly KeyObject[], start = defaultStart): LoadedTrustRoot {
  return trustRoot({ tlogs: keys, start });
}

/**
 * The public-good production trusted root of the corpus snapshot; `replace`
 * swaps top-level fields of its JSON (e.g. `tlogs`) before it is loaded.
 */
export function productionTrustRoot(replace: Readonly<Record<string, unknown>> = {}): LoadedTrustRoot {
  const json = readJson(productionTrustedRoot) as Record<string, unknown>;
  return loadTrustedRoot({ ...json, ...replace });
}
