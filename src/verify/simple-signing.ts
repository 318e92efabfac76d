/**
 * The cosign "simple signing" payload: the JSON blob a legacy `.sig` layer
 * signs (formats.md §4):
 *
 *   {"critical":{"identity":{"docker-reference":"…"},
 *                "image":{"docker-manifest-digest":"sha256:…"},
 *                "type":"cosign container image signature"},
 *    "optional":{…} | null}
 *
 * cosign decodes it with Go's encoding/json, which matches object keys
 * case-insensitively (the spec itself spells `Docker-manifest-digest`), so
 * every key here is looked up case-insensitively too. Where two spellings of
 * one key are present, Go would silently take the last one; we refuse the
 * payload instead, so two parsers can never read two different digests out of
 * one signed blob. Pure: parsing never throws, it reports a problem.
 */
import { isJsonObject as isObject } from '../base/json.js';

/** `critical.type` of every cosign image signature. */
export const simpleSigningType = 'cosign container image signature';

/** The parts of a simple-signing payload Sigwatch uses. */
export interface SimpleSigningPayload {
  /** `critical.image.docker-manifest-digest`, verbatim (not validated as a digest). */
  readonly dockerManifestDigest: string;
  /** `critical.identity.docker-reference`; informative only, the spec says it is ignored. */
  readonly dockerReference?: string;
  /** `optional`: the signer's `-a key=value` annotations (values may be any JSON). */
  readonly optional: Readonly<Record<string, unknown>>;
}

export type SimpleSigningParse =
  | { readonly ok: true; readonly payload: SimpleSigningPayload }
  | { readonly ok: false; readonly problem: string };

type JsonObject = Readonly<Record<string, unknown>>;

const decoder = new TextDecoder('utf-8', { fatal: true });

type Lookup = { readonly found: false } | { readonly found: true; readonly value: unknown } | 'ambiguous';

/**
 * Go's `bytes.EqualFold` against a lower-case ASCII name: ASCII letters fold
 * by case, and the only non-ASCII runes that fold onto ASCII are the Kelvin
 * sign (k) and the long s (s). `toLowerCase` alone would miss those two and
 * would fold others (such as U+0130) that Go does not.
 */
function foldsTo(key: string, name: string): boolean {
  let folded = '';
  for (const ch of key) {
    if (ch === '\u212A') {
      folded += 'k';
    } else if (ch === '\u017F') {
      folded += 's';
    } else {
      folded += ch.charCodeAt(0) < 0x80 ? ch.toLowerCase() : ch;
    }
  }
  return folded === name;
}

/** Case-insensitive key lookup; two keys folding to the same name are ambiguous. */
function lookup(object: JsonObject, name: string): Lookup {
  const keys = Object.keys(object).filter((k) => foldsTo(k, name));
  if (keys.length > 1) {
    return 'ambiguous';
  }
  const key = keys[0];
  return key === undefined ? { found: false } : { found: true, value: object[key] };
}

/** Internal: unwinds the nested reads below to {@link parseSimpleSigning}, which turns it into a result. */
class PayloadProblem extends Error {
  constructor(readonly problem: string) {
    super(problem);
  }
}

function field(object: JsonObject, path: string, name: string): unknown {
  const result = lookup(object, name);
  if (result === 'ambiguous') {
    throw new PayloadProblem(`${path}${name} is present in more than one spelling`);
  }
  return result.found ? result.value : undefined;
}

function objectField(object: JsonObject, path: string, name: string): JsonObject {
  const value = field(object, path, name);
  if (!isObject(value)) {
    throw new PayloadProblem(`${path}${name} is not an object`);
  }
  return value;
}

function parseObject(bytes: Uint8Array): JsonObject {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new PayloadProblem('payload is not UTF-8 JSON');
  }
  if (!isObject(json)) {
    throw new PayloadProblem('payload is not a JSON object');
  }
  return json;
}

function readPayload(bytes: Uint8Array): SimpleSigningPayload {
  const root = parseObject(bytes);
  const critical = objectField(root, '', 'critical');
  const type = field(critical, 'critical.', 'type');
  if (type !== simpleSigningType) {
    throw new PayloadProblem(
      `critical.type is ${JSON.stringify(type)}, not ${JSON.stringify(simpleSigningType)}`,
    );
  }
  const image = objectField(critical, 'critical.', 'image');
  const digest = field(image, 'critical.image.', 'docker-manifest-digest');
  if (typeof digest !== 'string' || digest === '') {
    throw new PayloadProblem('critical.image.docker-manifest-digest is missing or not a string');
  }
  const identity = field(critical, 'critical.', 'identity');
  let dockerReference: unknown;
  if (isObject(identity)) {
    dockerReference = field(identity, 'critical.identity.', 'docker-reference');
  }
  const optional = field(root, '', 'optional');
  if (optional !== undefined && optional !== null && !isObject(optional)) {
    throw new PayloadProblem('optional is neither an object nor null');
  }
  return {
    dockerManifestDigest: digest,
    ...(typeof dockerReference === 'string' ? { dockerReference } : {}),
    optional: optional ?? {},
  };
}

/**
 * Parses and structurally checks a simple-signing payload: UTF-8 JSON object,
 * `critical` object, `critical.type` exactly {@link simpleSigningType},
 * `critical.image.docker-manifest-digest` a non-empty string, `optional`
 * absent, null or an object. Call it on bytes whose signature has been
 * verified before acting on the content. Never throws.
 */
export function parseSimpleSigning(bytes: Uint8Array): SimpleSigningParse {
  try {
    return { ok: true, payload: readPayload(bytes) };
  } catch (error: unknown) {
    if (error instanceof PayloadProblem) {
      return { ok: false, problem: error.problem };
    }
    throw error;
  }
}

/**
 * True when every required annotation is present in `optional` with exactly
 * that string value (cosign's `-a` check: a number 1 does not match "1").
 */
export function hasAnnotations(
  payload: SimpleSigningPayload,
  required: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(required).every(
    ([key, value]) => Object.hasOwn(payload.optional, key) && payload.optional[key] === value,
  );
}
