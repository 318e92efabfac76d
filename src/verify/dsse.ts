/**
 * DSSE envelopes (formats.md §6; secure-systems-lab/dsse protocol.md): parse
 * an envelope, build the pre-authentication encoding (PAE) and verify a
 * signature over it with a public key. Pure: no I/O, never throws on
 * registry-supplied bytes.
 *
 *   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 *
 * The signature covers the PAE bytes, never the JSON envelope, and `keyid`
 * is unauthenticated: it is kept for display and never used to pick a key.
 */
import type { KeyObject } from 'node:crypto';
import { verifyMessage } from './keys.js';
import { isJsonObject as isObject } from '../base/json.js';

/** The payload type of in-toto statements. */
export const inTotoPayloadType = 'application/vnd.in-toto+json';

/**
 * More signatures than this make the envelope invalid: cosign writes one,
 * and each extra signature costs a public-key operation per authority.
 */
export const maxDsseSignatures = 8;

export interface DsseSignature {
  readonly sig: Buffer;
  /** Unauthenticated hint; never used for trust. */
  readonly keyid?: string;
}

/** A parsed envelope: `payload` is already base64-decoded. */
export interface DsseEnvelope {
  readonly payloadType: string;
  readonly payload: Buffer;
  readonly signatures: readonly DsseSignature[];
}

export type DsseParse =
  { readonly ok: true; readonly envelope: DsseEnvelope } | { readonly ok: false; readonly problem: string };

/** What a successful verification vouches for: these exact bytes, this type, this signature. */
export interface VerifiedDsse {
  readonly payloadType: string;
  readonly payload: Buffer;
  /** The signature that verified (for matching a transparency-log entry). */
  readonly signature: Buffer;
}

/**
 * Decodes standard or URL-safe base64, padded or not (DSSE verifiers MUST
 * accept both alphabets). Line breaks are ignored, as Go's decoder (cosign's)
 * ignores them. Returns undefined for anything else, where
 * `Buffer.from(…, 'base64')` would silently skip the invalid characters.
 */
export function decodeBase64(encoded: string): Buffer | undefined {
  const text = encoded.replace(/[\r\n]/g, '');
  const standard = /^[A-Za-z0-9+/]*={0,2}$/.test(text);
  const urlSafe = /^[A-Za-z0-9_-]*={0,2}$/.test(text);
  if (!standard && !urlSafe) {
    return undefined;
  }
  let end = text.length;
  while (end > 0 && text[end - 1] === '=') end--; // a loop, not /=+$/ (quadratic on '=' not at the end)
  const unpadded = text.slice(0, end);
  // A single leftover character carries 6 bits, less than one byte.
  if (unpadded.length % 4 === 1 || (text.length !== unpadded.length && text.length % 4 !== 0)) {
    return undefined;
  }
  return Buffer.from(unpadded, standard ? 'base64' : 'base64url');
}

/**
 * The PAE bytes for `payloadType` and the decoded `payload`. Lengths are
 * UTF-8 byte counts in ASCII decimal; @sigstore/core's helper counts UTF-16
 * code units, which differs for a non-ASCII payload type.
 */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Buffer {
  const header = `DSSEv1 ${String(Buffer.byteLength(payloadType, 'utf8'))} ${payloadType} ${String(payload.length)} `;
  return Buffer.concat([Buffer.from(header, 'utf8'), payload]);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parseSignature(value: unknown, index: number): DsseSignature | string {
  if (!isObject(value)) {
    return `signatures[${String(index)}] is not an object`;
  }
  const { sig, keyid } = value;
  const bytes = typeof sig === 'string' ? decodeBase64(sig) : undefined;
  if (bytes === undefined || bytes.length === 0) {
    return `signatures[${String(index)}].sig is not non-empty base64`;
  }
  if (keyid !== undefined && typeof keyid !== 'string') {
    return `signatures[${String(index)}].keyid is not a string`;
  }
  return keyid === undefined ? { sig: bytes } : { sig: bytes, keyid };
}

/**
 * Parses an envelope: a UTF-8 JSON object with a non-empty string
 * `payloadType`, a base64 (standard or URL-safe) string `payload`, and 1 to
 * {@link maxDsseSignatures} signatures, each with a non-empty base64 `sig`
 * and an optional string `keyid`. Other fields are ignored. Never throws.
 */
export function parseDsseEnvelope(bytes: Uint8Array): DsseParse {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    return { ok: false, problem: 'envelope is not UTF-8 JSON' };
  }
  if (!isObject(json)) {
    return { ok: false, problem: 'envelope is not a JSON object' };
  }
  const { payloadType, payload, signatures } = json;
  if (typeof payloadType !== 'string' || payloadType === '') {
    return { ok: false, problem: 'payloadType is missing or not a string' };
  }
  const body = typeof payload === 'string' ? decodeBase64(payload) : undefined;
  if (body === undefined) {
    return { ok: false, problem: 'payload is missing or not base64' };
  }
  if (!Array.isArray(signatures) || signatures.length === 0 || signatures.length > maxDsseSignatures) {
    return { ok: false, problem: `signatures must be an array of 1 to ${String(maxDsseSignatures)} entries` };
  }
  const parsed: DsseSignature[] = [];
  for (const [i, value] of signatures.entries()) {
    const signature = parseSignature(value, i);
    if (typeof signature === 'string') {
      return { ok: false, problem: signature };
    }
    parsed.push(signature);
  }
  return { ok: true, envelope: { payloadType, payload: body, signatures: parsed } };
}

/**
 * Verifies the envelope with one public key: some signature must verify over
 * PAE(payloadType, payload) under `key` (the first that does is returned).
 * That is the only check: whether `payloadType` is acceptable and what the
 * payload means are the caller's questions, to be asked of the returned
 * bytes, which are exactly the verified ones. Returns undefined when no
 * signature verifies. Never throws.
 */
export function verifyDsse(envelope: DsseEnvelope, key: KeyObject): VerifiedDsse | undefined {
  const pae = preAuthEncoding(envelope.payloadType, envelope.payload);
  const match = envelope.signatures.find((s) => verifyMessage(key, pae, s.sig));
  return match === undefined
    ? undefined
    : { payloadType: envelope.payloadType, payload: envelope.payload, signature: match.sig };
}
