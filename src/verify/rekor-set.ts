/**
 * Signing-time evidence in cosign's legacy layer annotations (formats.md §4):
 * the Rekor signed entry timestamp (SET) in `dev.sigstore.cosign/bundle`,
 *
 *   {"SignedEntryTimestamp":"<base64>",
 *    "Payload":{"body":"<base64 entry>","integratedTime":n,"logIndex":n,"logID":"<hex>"}}
 *
 * The RFC 3161 timestamp of `dev.sigstore.cosign/rfc3161timestamp`, the other
 * source of a signing time, is rfc3161.ts.
 *
 * The SET is the log's signature (ECDSA P-256/SHA-256 for Rekor v1) over the
 * RFC 8785 canonical JSON of `Payload`. Only once it verifies under a log key
 * of the trust material — the key whose hex SHA-256 of its DER SPKI is
 * `logID`, valid at `integratedTime` — does `integratedTime` count as a
 * trusted signing time. The body must then name this very signature, payload
 * and signer, or a genuine SET of some other entry could be grafted onto a
 * signature it never logged. Pure: no I/O, never throws.
 */
import { X509Certificate, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { TrustMaterial } from '@sigstore/verify';
import { decodeBase64 } from './dsse.js';
import { parsePemBlocks, spkiDer } from './keys.js';
import { isJsonObject as isObject } from '../base/json.js';

type TLogAuthority = TrustMaterial['tlogs'][number];

/** The parsed annotation. `body` stays base64 text: the SET covers that exact string. */
export interface CosignBundle {
  readonly signedEntryTimestamp: Buffer;
  readonly body: string;
  readonly integratedTime: number;
  readonly logIndex: number;
  readonly logID: string;
}

export type SetVerification =
  | { readonly ok: true; readonly integratedTime: Date; readonly logIndex: number }
  | { readonly ok: false; readonly problem: string };

/** What a log entry must name for its SET to vouch for one signature. */
export interface EntryExpectation {
  /** A signature over a blob (hashedrekord) or a DSSE envelope (dsse, intoto). */
  readonly content: 'message' | 'dsse';
  /** The raw signature bytes that verified. */
  readonly signature: Buffer;
  /** The signed blob (hashedrekord) or the DSSE payload (dsse, intoto). */
  readonly payload: Uint8Array;
  /** Acceptable DER encodings of the signer: the leaf certificate, or the SPKI of the key. */
  readonly signers: readonly Buffer[];
  /**
   * Key signatures: the SPKI DER of the key, so that an entry naming a
   * certificate for that key (as `cosign sign --sk` uploads) also names the
   * signer. The layer's certificate annotation is not needed for this.
   */
  readonly signerKey?: Buffer | undefined;
}

export type EntryCheck = { readonly ok: true } | { readonly ok: false; readonly problem: string };

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Parses the bundle annotation; undefined when any field is missing or mistyped. */
export function parseCosignBundle(annotation: string): CosignBundle | undefined {
  let json: unknown;
  try {
    json = JSON.parse(annotation);
  } catch {
    return undefined;
  }
  if (!isObject(json) || !isObject(json['Payload']) || typeof json['SignedEntryTimestamp'] !== 'string') {
    return undefined;
  }
  const { body, integratedTime, logIndex, logID } = json['Payload'];
  const set = decodeBase64(json['SignedEntryTimestamp']);
  if (set === undefined || set.length === 0 || typeof body !== 'string' || typeof logID !== 'string') {
    return undefined;
  }
  if (!isCount(integratedTime) || !isCount(logIndex) || !/^[0-9a-fA-F]{64}$/.test(logID)) {
    return undefined;
  }
  return { signedEntryTimestamp: set, body, integratedTime, logIndex, logID };
}

function logIdOf(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

function verifyWithLogKey(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    // Rekor v1 signs with ECDSA/SHA-256; an Ed25519 log key signs the message itself.
    return cryptoVerify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', data, key, signature);
  } catch {
    return false;
  }
}

/**
 * Verifies the SET against the transparency logs of the trust material. On
 * success `integratedTime` is a trusted signing time. An integrated time
 * after `now` fails: a log cannot have seen the entry in the future. The body
 * is not inspected: follow with {@link checkEntryBody}.
 */
export function verifySet(bundle: CosignBundle, tlogs: readonly TLogAuthority[], now: Date): SetVerification {
  const at = new Date(bundle.integratedTime * 1000);
  if (at > now) {
    return { ok: false, problem: `the integrated time ${at.toISOString()} is in the future` };
  }
  const logID = bundle.logID.toLowerCase();
  const candidates = tlogs.filter((log) => logIdOf(log.publicKey) === logID);
  if (candidates.length === 0) {
    return { ok: false, problem: `no trusted transparency log has ID ${logID}` };
  }
  const valid = candidates.filter((log) => log.validFor.start <= at && at <= log.validFor.end);
  if (valid.length === 0) {
    return { ok: false, problem: `the log key was not valid at the integrated time ${at.toISOString()}` };
  }
  const signed = canonicalize({
    body: bundle.body,
    integratedTime: bundle.integratedTime,
    logID: bundle.logID,
    logIndex: bundle.logIndex,
  });
  const data = Buffer.from(signed ?? '', 'utf8');
  if (!valid.some((log) => verifyWithLogKey(log.publicKey, data, bundle.signedEntryTimestamp))) {
    return { ok: false, problem: 'the signed entry timestamp does not verify' };
  }
  return { ok: true, integratedTime: at, logIndex: bundle.logIndex };
}

const sha256Hex = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** DER of the one certificate or public key in base64-encoded PEM text, as Rekor stores verifiers. */
function verifierDer(base64Pem: unknown): Buffer | undefined {
  const pem = typeof base64Pem === 'string' ? decodeBase64(base64Pem) : undefined;
  const blocks = pem === undefined ? undefined : parsePemBlocks(pem.toString('utf8'));
  return blocks?.length === 1 ? blocks[0]?.der : undefined;
}

function namesSigner(der: Buffer | undefined, expect: EntryExpectation): boolean {
  if (der === undefined) {
    return false;
  }
  return expect.signers.some((s) => s.equals(der)) || certifiesKey(der, expect.signerKey);
}

/** True when `der` is an X.509 certificate whose public key is `keyDer`. */
function certifiesKey(der: Buffer, keyDer: Buffer | undefined): boolean {
  if (keyDer === undefined) {
    return false;
  }
  try {
    return spkiDer(new X509Certificate(der).publicKey).equals(keyDer);
  } catch {
    return false; // not a certificate
  }
}

function sameSignature(text: unknown, expected: Buffer): boolean {
  const bytes = typeof text === 'string' ? decodeBase64(text) : undefined;
  return bytes?.equals(expected) === true;
}

function hashNames(hash: unknown, payload: Uint8Array): boolean {
  return isObject(hash) && hash['algorithm'] === 'sha256' && hash['value'] === sha256Hex(payload);
}

function path(root: unknown, ...keys: string[]): unknown {
  let value = root;
  for (const key of keys) {
    value = isObject(value) ? value[key] : undefined;
  }
  return value;
}

/** Body problem per supported entry kind, or undefined when the body names the expectation. */
function bodyProblem(kind: string, spec: unknown, expect: EntryExpectation): string | undefined {
  switch (kind) {
    case 'hashedrekord/0.0.1':
      if (!hashNames(path(spec, 'data', 'hash'), expect.payload)) {
        return 'the entry hashes another payload';
      }
      if (!sameSignature(path(spec, 'signature', 'content'), expect.signature)) {
        return 'the entry holds another signature';
      }
      return namesSigner(verifierDer(path(spec, 'signature', 'publicKey', 'content')), expect)
        ? undefined
        : 'the entry names another signer';
    case 'dsse/0.0.1': {
      const sigs = path(spec, 'signatures');
      const only: unknown = Array.isArray(sigs) && sigs.length === 1 ? sigs[0] : undefined;
      if (!hashNames(path(spec, 'payloadHash'), expect.payload)) {
        return 'the entry hashes another payload';
      }
      if (!sameSignature(path(only, 'signature'), expect.signature)) {
        return 'the entry holds another signature (or not exactly one)';
      }
      return namesSigner(verifierDer(path(only, 'verifier')), expect)
        ? undefined
        : 'the entry names another signer';
    }
    case 'intoto/0.0.2': {
      const sigs = path(spec, 'content', 'envelope', 'signatures');
      const only: unknown = Array.isArray(sigs) && sigs.length === 1 ? sigs[0] : undefined;
      // Rekor stores this signature base64-encoded twice.
      const inner = path(only, 'sig');
      const once = typeof inner === 'string' ? decodeBase64(inner)?.toString('utf8') : undefined;
      if (!hashNames(path(spec, 'content', 'payloadHash'), expect.payload)) {
        return 'the entry hashes another payload';
      }
      if (!sameSignature(once, expect.signature)) {
        return 'the entry holds another signature (or not exactly one)';
      }
      return namesSigner(verifierDer(path(only, 'publicKey')), expect)
        ? undefined
        : 'the entry names another signer';
    }
    default:
      return `unsupported entry kind ${kind}`;
  }
}

/**
 * Checks that the (base64) entry body names this signature: `hashedrekord`
 * 0.0.1 for `message` content (simple-signing signatures); `dsse` 0.0.1 and
 * `intoto` 0.0.2 for `dsse` content (attestations). Each must carry the SHA-256 of `payload`, exactly one
 * signature equal to `signature`, and a verifier whose DER is one of `signers`. Other
 * kinds (including `intoto` 0.0.1, which records no signature) are refused.
 */
export function checkEntryBody(body: string, expect: EntryExpectation): EntryCheck {
  const bytes = decodeBase64(body);
  let entry: unknown;
  try {
    entry = bytes === undefined ? undefined : JSON.parse(bytes.toString('utf8'));
  } catch {
    entry = undefined;
  }
  const kind = path(entry, 'kind');
  const version = path(entry, 'apiVersion');
  if (typeof kind !== 'string' || typeof version !== 'string') {
    return { ok: false, problem: 'the entry body is not a Rekor entry' };
  }
  const kindVersion = `${kind}/${version}`;
  if ((kindVersion === 'hashedrekord/0.0.1') !== (expect.content === 'message')) {
    return { ok: false, problem: `a ${kindVersion} entry cannot log ${expect.content} content` };
  }
  const problem = bodyProblem(kindVersion, path(entry, 'spec'), expect);
  return problem === undefined ? { ok: true } : { ok: false, problem };
}
