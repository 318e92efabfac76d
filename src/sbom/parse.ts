/**
 * Entry points: detect the SBOM format and normalise it (model.ts).
 *
 * Accepted inputs: an SPDX 2.2/2.3 or CycloneDX 1.2+ JSON object (cosign
 * `--type spdxjson` / `cyclonedx` predicates), the same document as a JSON
 * string (cosign `--type spdx` predicate, formats.md §6), or raw text.
 * Pure: no I/O and no clock; yielding to the event loop is injected.
 */
import { readCycloneDx } from './cyclonedx.js';
import { documentPath, SbomError } from './errors.js';
import { isObject, type DocumentReader } from './fields.js';
import type { NormalisedSbom, SbomComponent } from './model.js';
import { readSpdx } from './spdx.js';

/** Components processed between two yields of `parseSbomAsync` unless told otherwise. */
export const defaultChunkSize = 100;

/**
 * Normalises an SBOM given as parsed JSON, or as a string holding the JSON
 * document (cosign's `spdx` predicate).
 *
 * Throws `SbomError`: `SbomUnsupported` for JSON that is not SPDX 2.2/2.3 or
 * CycloneDX 1.2+ (SPDX 3.0, tag-value, anything else); `SbomInvalid` for a
 * document that breaks its format's rules or text that is not JSON.
 */
export function parseSbom(json: unknown): NormalisedSbom {
  const reader = detect(json);
  return finish(reader, [...reader.components()]);
}

/** `parseSbom` of a document's text (a file, a blob, a predicate string). Same errors. */
export function parseSbomText(text: string): NormalisedSbom {
  return parseSbom(text);
}

export interface ParseSbomAsyncOptions {
  /**
   * Gives the event loop a turn; called after every `chunkSize` components.
   * Production passes `() => new Promise((r) => setImmediate(r))`; tests count calls.
   */
  readonly yieldControl: () => Promise<void>;
  /** Checked after every yield; an abort rejects with `signal.reason`, not an SbomError. */
  readonly signal?: AbortSignal;
  /** Components per chunk, at least 1; default `defaultChunkSize`. */
  readonly chunkSize?: number;
}

/**
 * `parseSbom` for large documents: the header is read at once, components in
 * chunks with `yieldControl()` between them, so a 5 MB SBOM does not hold
 * the event loop for its whole parse. Same result and errors as `parseSbom`;
 * rejects with `signal.reason` once `signal` is aborted. JSON text is parsed
 * in one step (JSON.parse is not resumable); pass objects to split that work.
 */
export async function parseSbomAsync(json: unknown, options: ParseSbomAsyncOptions): Promise<NormalisedSbom> {
  const chunkSize = Math.max(1, Math.floor(options.chunkSize ?? defaultChunkSize));
  options.signal?.throwIfAborted();
  const reader = detect(json);
  const components: SbomComponent[] = [];
  let sinceYield = 0;
  for (const component of reader.components()) {
    components.push(component);
    if (++sinceYield < chunkSize) continue;
    sinceYield = 0;
    await options.yieldControl();
    options.signal?.throwIfAborted();
  }
  return finish(reader, components);
}

function finish(reader: DocumentReader, components: SbomComponent[]): NormalisedSbom {
  return {
    format: reader.format,
    specVersion: reader.specVersion,
    ...(reader.created === undefined ? {} : { created: reader.created }),
    ...(reader.subject === undefined ? {} : { subject: reader.subject }),
    components,
    warnings: reader.warnings.list(),
  };
}

/** Picks the reader by the field each format requires at the top level. */
function detect(json: unknown): DocumentReader {
  const doc = typeof json === 'string' ? parseText(json) : json;
  if (!isObject(doc)) throw new SbomError('SbomUnsupported', documentPath, 'not a JSON object');
  if (doc['spdxVersion'] !== undefined) return readSpdx(doc);
  if (doc['bomFormat'] !== undefined) return readCycloneDx(doc);
  if (isSpdx3(doc)) throw new SbomError('SbomUnsupported', '@context', 'SPDX 3 JSON-LD is not supported');
  throw new SbomError('SbomUnsupported', documentPath, 'neither spdxVersion nor bomFormat is present');
}

function parseText(text: string): unknown {
  // Tag-value is a real SPDX serialisation, just not one Sigwatch reads.
  if (/^SPDXVersion:\s*SPDX-/m.test(text)) {
    throw new SbomError('SbomUnsupported', documentPath, 'SPDX tag-value is not supported; use SPDX JSON');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error: unknown) {
    throw new SbomError('SbomInvalid', documentPath, 'not JSON', { cause: error });
  }
}

// SPDX 3 documents are JSON-LD: an @context naming spdx.org/rdf/3.x.
function isSpdx3(doc: Readonly<Record<string, unknown>>): boolean {
  const context = doc['@context'];
  const contexts: unknown[] = Array.isArray(context) ? context : [context];
  return contexts.some((c) => typeof c === 'string' && c.includes('spdx.org/rdf/3'));
}
