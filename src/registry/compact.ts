/**
 * Evidence kept for a long time, in a fraction of the memory: the large byte
 * arrays (DSSE envelopes of SBOM attestations, Sigstore bundles carrying
 * them) are stored deflated and inflated on each read.
 *
 * Why: the operator keeps the evidence of every running digest so that a
 * policy edit — even a new authority, whose key must check every envelope
 * again — is judged without a registry request (design §4.4). A 500-package
 * SBOM attestation is ~200 KiB of JSON and base64, ~10 KiB deflated; reads
 * are rare (the verification cache keeps results per authority) and cost
 * well under a millisecond.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { AttestationLayer, BundleReferrer, Evidence } from './evidence-types.js';

/** Smaller arrays are kept as they are: signatures and small bundles gain nothing. */
const defaultMinBytes = 16 * 1024;

/** Layers already compacted (reused layers of a refresh are the same objects). */
const compacted = new WeakSet<object>();

/**
 * `layer` with `field` kept deflated behind a getter, or `layer` itself when
 * that would not save at least a fifth. The getter returns a fresh copy on
 * every read, so no caller can alter what the next one sees.
 */
function deflated<T extends AttestationLayer | BundleReferrer>(
  layer: T,
  field: 'envelope' | 'bundle',
  minBytes: number,
): T {
  if (compacted.has(layer)) return layer;
  const bytes = (layer as unknown as Record<string, Uint8Array>)[field] ?? new Uint8Array();
  if (bytes.length < minBytes) return layer;
  // Level 1: five times faster than the default for a few percent more bytes.
  const output = deflateRawSync(bytes, { level: 1 });
  if (output.length > bytes.length * 0.8) return layer;
  // zlib's output sits in a larger allocation; keep an exact-size copy.
  const packed = new Uint8Array(output);
  const size = bytes.length;
  const copy = { ...layer };
  Object.defineProperty(copy, field, {
    enumerable: true,
    get: (): Uint8Array => inflateRawSync(packed, { maxOutputLength: size }),
  });
  compacted.add(copy);
  return copy;
}

/** The same evidence with its large envelopes and bundles held deflated. */
export function compactEvidence(evidence: Evidence, minBytes = defaultMinBytes): Evidence {
  return {
    ...evidence,
    attestations: evidence.attestations.map((a) => deflated(a, 'envelope', minBytes)),
    bundles: evidence.bundles.map((b) => deflated(b, 'bundle', minBytes)),
  };
}
