/**
 * Legacy cosign attestations: one layer of a `sha256-<hex>.att` manifest
 * (formats.md §4, §6), judged against one authority. The blob is a DSSE
 * envelope; the cert, chain and bundle annotations work as on `.sig` layers
 * (the signature annotation is present but empty). Pure; never throws on
 * layer content.
 *
 * Steps and reasons, in order:
 *  1. The envelope parses (→ else `SignatureInvalid`) and the signer resolves
 *     as for signatures (legacy-signature.ts step 2).
 *  2. Some envelope signature verifies over the PAE with the authority key
 *     (→ else `KeyMismatch`) or the leaf key (→ else `SignatureInvalid`).
 *  3. The verified payload is an in-toto Statement v0.1 or v1 and its
 *     `payloadType` is `application/vnd.in-toto+json` — or, as the DSSE
 *     layers of early cosign/kyverno carry, the statement's own
 *     `predicateType` (→ else `AttestationInvalid`). Only the verified bytes
 *     are parsed.
 *  4. Log, signing time, chain and identity as for signatures; a Rekor entry
 *     must be `dsse` 0.0.1 or `intoto` 0.0.2 naming this signature and payload.
 *  5. Some subject's sha256 equals the image digest (→ else `DigestMismatch`).
 */
import type { Digest } from '../base/digest.js';
import { digestHex } from '../base/digest.js';
import type { Authority } from './authority.js';
import { inTotoPayloadType, parseDsseEnvelope, verifyDsse } from './dsse.js';
import { checkAuthority, rejectedBy, resolveSigner } from './legacy-signature.js';
import type { RejectedSignature, VerifiedSignature } from './result.js';
import { isJsonObject as isObject } from '../base/json.js';

export const statementV01 = 'https://in-toto.io/Statement/v0.1';
export const statementV1 = 'https://in-toto.io/Statement/v1';

export interface InTotoSubject {
  /** Required and unique in v0.1, optional in v1. */
  readonly name?: string;
  /** Algorithm → hex digest. */
  readonly digest: Readonly<Record<string, string>>;
}

/** A verified in-toto statement: what an attestation says about its subjects. */
export interface InTotoStatement {
  readonly type: typeof statementV01 | typeof statementV1;
  readonly subject: readonly InTotoSubject[];
  readonly predicateType: string;
  /** Any JSON: an object normally, a string for cosign's `--type spdx`. */
  readonly predicate?: unknown;
}

/** One `.att` layer: the envelope blob (already digest-checked) and the layer annotations. */
export interface LegacyAttestationLayer {
  readonly envelope: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

export type LegacyAttestationResult =
  RejectedSignature | (VerifiedSignature & { readonly statement: InTotoStatement });

export type StatementParse =
  | { readonly ok: true; readonly statement: InTotoStatement }
  | { readonly ok: false; readonly problem: string };

function parseSubject(value: unknown, type: InTotoStatement['type']): InTotoSubject | undefined {
  if (!isObject(value) || !isObject(value['digest'])) {
    return undefined;
  }
  const entries = Object.entries(value['digest']);
  if (entries.length === 0 || !entries.every(([, v]) => typeof v === 'string' && v !== '')) {
    return undefined;
  }
  const digest = Object.fromEntries(entries) as Record<string, string>;
  const name = value['name'];
  if (name === undefined && type === statementV1) {
    return { digest };
  }
  return typeof name === 'string' && (name !== '' || type === statementV1) ? { name, digest } : undefined;
}

/**
 * Parses an in-toto Statement (v0.1 or v1): `_type` one of the two, a
 * non-empty `subject` list whose entries have a non-empty string `digest`
 * map (and, in v0.1, a non-empty name unique in the list), a non-empty string
 * `predicateType`. Never throws.
 */
export function parseInTotoStatement(bytes: Uint8Array): StatementParse {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, problem: 'statement is not UTF-8 JSON' };
  }
  if (!isObject(json)) {
    return { ok: false, problem: 'statement is not a JSON object' };
  }
  const type = json['_type'];
  if (type !== statementV01 && type !== statementV1) {
    return { ok: false, problem: `unsupported statement _type ${JSON.stringify(type)}` };
  }
  const subjects = json['subject'];
  const subject = Array.isArray(subjects) ? subjects.map((s) => parseSubject(s, type)) : [];
  if (subject.length === 0 || subject.some((s) => s === undefined)) {
    return { ok: false, problem: 'subject is missing or has an invalid entry' };
  }
  const parsed = subject as InTotoSubject[];
  const names = parsed.map((s) => s.name);
  if (type === statementV01 && new Set(names).size !== names.length) {
    return { ok: false, problem: 'subject names are not unique' };
  }
  const predicateType = json['predicateType'];
  if (typeof predicateType !== 'string' || predicateType === '') {
    return { ok: false, problem: 'predicateType is missing' };
  }
  const predicate = json['predicate'];
  const statement: InTotoStatement = { type, subject: parsed, predicateType };
  return { ok: true, statement: predicate === undefined ? statement : { ...statement, predicate } };
}

/**
 * True when some subject names `digest`. Algorithms both sides know are
 * compared (here only sha256, hex case-insensitively); a subject without
 * sha256 shares nothing with an image digest and never matches.
 */
export function statementNamesDigest(statement: InTotoStatement, digest: Digest): boolean {
  const hex = digestHex(digest);
  return statement.subject.some((s) => s.digest['sha256']?.toLowerCase() === hex);
}

/**
 * Verifies one legacy `.att` layer for `imageDigest` under `authority`
 * (steps in the module comment) and returns the verified statement with the
 * result. Never throws on layer content.
 */
export function verifyLegacyAttestation(
  layer: LegacyAttestationLayer,
  imageDigest: Digest,
  authority: Authority,
  now: Date,
): LegacyAttestationResult {
  const parsed = parseDsseEnvelope(layer.envelope);
  if (!parsed.ok) {
    return rejectedBy(authority, {
      ok: false,
      reason: 'SignatureInvalid',
      message: `bad DSSE envelope: ${parsed.problem}`,
    });
  }
  const signer = resolveSigner(layer.annotations, authority);
  if ('reason' in signer) {
    return rejectedBy(authority, signer);
  }
  const verified = verifyDsse(parsed.envelope, signer.key);
  if (verified === undefined) {
    return signer.certificate === undefined
      ? rejectedBy(authority, {
          ok: false,
          reason: 'KeyMismatch',
          message: 'no envelope signature verifies with the key',
        })
      : rejectedBy(authority, {
          ok: false,
          reason: 'SignatureInvalid',
          message: 'the envelope does not verify with its certificate key',
        });
  }
  const statement = parseInTotoStatement(verified.payload);
  if (!statement.ok) {
    return rejectedBy(authority, { ok: false, reason: 'AttestationInvalid', message: statement.problem });
  }
  const type = verified.payloadType;
  if (type !== inTotoPayloadType && type !== statement.statement.predicateType) {
    return rejectedBy(authority, {
      ok: false,
      reason: 'AttestationInvalid',
      message: `unsupported payloadType ${type}`,
    });
  }
  const accepted = checkAuthority(
    signer,
    layer.annotations,
    {
      entry: { content: 'dsse', signature: verified.signature, payload: verified.payload },
      // cosign timestamps the whole envelope of an attestation (its signature annotation is empty).
      timestamped: layer.envelope,
    },
    authority,
    now,
  );
  if (!accepted.ok) {
    return rejectedBy(authority, accepted);
  }
  if (!statementNamesDigest(statement.statement, imageDigest)) {
    return rejectedBy(authority, {
      ok: false,
      reason: 'DigestMismatch',
      message: `no statement subject is ${imageDigest}`,
    });
  }
  return { ...accepted, statement: statement.statement };
}
