/**
 * Sigstore bundle JSON → @sigstore/bundle's `Bundle`, stricter than the
 * library (formats.md §5). Pure: no I/O, no clock.
 *
 * @sigstore/bundle checks the shape per version (v0.1 needs SETs, v0.2+
 * inclusion proofs with checkpoints, v0.3 a single certificate, one DSSE
 * signature), but it decodes `bytes` fields with Node's forgiving base64
 * (invalid characters are skipped, so "INVALID!!!" becomes some bytes),
 * copies int64 strings such as "-1" unchecked, and accepts any media type
 * that merely starts like a bundle one. Those are refused here, so what the
 * crypto later sees is exactly what the producer wrote.
 */
import { ValidationError, bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { VerifyError } from './errors.js';

const v01MediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.1';
const v02MediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';

/**
 * v0.3 and later minors of major version 0, in both spellings. Later minors
 * are validated as v0.3 (what @sigstore/bundle does, and what its
 * forward-compatibility fixture expects); another major is refused.
 */
const laterMediaType =
  /^application\/vnd\.dev\.sigstore\.bundle(?:\+json;version=0\.(\d+)|\.v0\.(\d+)\+json)$/;

/** Names of the proto3 `bytes` fields of a bundle, in their JSON (camelCase) spelling. */
const bytesFields: ReadonlySet<string> = new Set([
  'rawBytes',
  'keyId',
  'canonicalizedBody',
  'signedEntryTimestamp',
  'rootHash',
  'hashes',
  'signedTimestamp',
  'digest',
  'signature',
  'payload',
  'sig',
]);

const standardAlphabet = /^[A-Za-z0-9+/]*$/;
const urlSafeAlphabet = /^[A-Za-z0-9_-]*$/;
const decimal = /^(?:0|[1-9]\d*)$/;

/** Nesting allowed in bundle JSON; real bundles are about 6 deep. */
const maxDepth = 32;

function invalid(message: string, cause?: unknown): VerifyError {
  return new VerifyError('BundleInvalid', message, cause === undefined ? undefined : { cause });
}

/**
 * Standard or URL-safe base64, padded or not (proto3 JSON accepts all four),
 * one alphabet throughout and no stray characters. Line breaks are ignored,
 * as Go's encoding/base64 (under sigstore-go and cosign) ignores them: some
 * producers wrap RFC 3161 tokens MIME-style.
 */
export function isStrictBase64(text: string): boolean {
  const unwrapped = text.replace(/\r?\n/g, '');
  const body = unwrapped.replace(/={1,2}$/, '');
  const padded = body.length !== unwrapped.length;
  if (!standardAlphabet.test(body) && !urlSafeAlphabet.test(body)) return false;
  if (body.length % 4 === 1) return false;
  return !padded || unwrapped.length % 4 === 0;
}

function checkBytesFields(value: unknown, path: string, depth: number): void {
  if (depth > maxDepth) throw invalid(`bundle nests deeper than ${String(maxDepth)} levels`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkBytesFields(item, `${path}[${String(i)}]`, depth + 1);
    });
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    if (bytesFields.has(key) && typeof child === 'string') {
      if (!isStrictBase64(child)) throw invalid(`${childPath} is not base64`);
    } else if (bytesFields.has(key) && Array.isArray(child)) {
      child.forEach((item: unknown, i) => {
        if (typeof item === 'string' && !isStrictBase64(item)) {
          throw invalid(`${childPath}[${String(i)}] is not base64`);
        }
      });
    } else {
      checkBytesFields(child, childPath, depth + 1);
    }
  }
}

function checkMediaType(mediaType: unknown): void {
  if (mediaType === v01MediaType || mediaType === v02MediaType) return;
  const later = typeof mediaType === 'string' ? laterMediaType.exec(mediaType) : null;
  const minor = Number(later?.[1] ?? later?.[2] ?? -1);
  if (minor < 3) {
    throw invalid(`unsupported bundle mediaType ${JSON.stringify(mediaType)}`);
  }
}

/** int64 fields arrive as strings; logs and sizes are never negative or fractional. */
function checkIntegers(bundle: Bundle): void {
  bundle.verificationMaterial.tlogEntries.forEach((entry, i) => {
    const fields: [string, string | undefined][] = [
      ['logIndex', entry.logIndex],
      ['integratedTime', entry.integratedTime],
      ['inclusionProof.logIndex', entry.inclusionProof?.logIndex],
      ['inclusionProof.treeSize', entry.inclusionProof?.treeSize],
    ];
    for (const [name, value] of fields) {
      if (value !== undefined && !decimal.test(value)) {
        throw invalid(`verificationMaterial.tlogEntries[${String(i)}].${name} is not a non-negative integer`);
      }
    }
  });
}

/**
 * Parses and validates one bundle (already JSON-parsed): media type
 * v0.1, v0.2 or v0.3+ of major 0; strict base64 in every bytes field;
 * non-negative int64 fields; then @sigstore/bundle's per-version checks.
 * @throws VerifyError `BundleInvalid` naming the first offending field, with
 *   the library's error (listing every invalid field) as cause.
 */
export function parseBundle(json: unknown): Bundle {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('bundle is not a JSON object');
  }
  checkMediaType((json as { mediaType?: unknown }).mediaType);
  checkBytesFields(json, '', 0);
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (error: unknown) {
    // @sigstore/bundle's ValidationError lists every invalid field path.
    const fields = error instanceof ValidationError ? ` (${error.fields.join(', ')})` : '';
    throw invalid(`bundle does not match the Sigstore bundle schema${fields}`, error);
  }
  checkIntegers(bundle);
  return bundle;
}
