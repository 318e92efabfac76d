/**
 * Evidence as plain data: everything the registries hold about one image
 * digest, with the completeness of the fetch. Produced by collectEvidence,
 * judged by the pure evaluators in src/verify, cacheable as is.
 */
import type { Digest } from '../base/digest.js';
import type { UnknownReason } from '../base/reasons.js';

export const bundleMediaTypePrefix = 'application/vnd.dev.sigstore.bundle';
export const simpleSigningMediaType = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const dsseMediaType = 'application/vnd.dsse.envelope.v1+json';
/** cosign's experimental OCI 1.1 mode stores legacy `.sig` content as a referrer of this type. */
export const cosignSigArtifactType = 'application/vnd.dev.cosign.artifact.sig.v1+json';

/**
 * The annotations evidence keeps (the only ones Sigwatch reads): cosign's
 * layer annotations (formats.md §4; `cosignAnnotations` in src/verify) and the
 * predicate type hints of bundle referrers and `.att` layers. Registries copy annotations of any
 * size; the rest are dropped when the evidence is collected.
 */
export const keptAnnotationKeys: readonly string[] = [
  'dev.cosignproject.cosign/signature',
  'dev.sigstore.cosign/certificate',
  'dev.sigstore.cosign/chain',
  'dev.sigstore.cosign/bundle',
  'dev.sigstore.cosign/rfc3161timestamp',
  'dev.sigstore.bundle.predicateType',
  // cosign's unsigned hint on `.att` layers, shown as is (never trusted: the verified statement says).
  'predicateType',
];

/**
 * A certificate or chain annotation longer than this is cut to one character
 * more: as long as the longest the verifier reads (`maxCertificatePemChars`),
 * which then still sees it as too long (SignatureInvalid) rather than absent.
 * The other kept annotations are JSON (the Rekor bundle, the RFC 3161
 * timestamp) or short, and are kept whole: a cut would make valid JSON
 * invalid and so a verdict definite, and their size is already paid for, as
 * part of their manifest, from the source's byte budget.
 */
export const maxAnnotationChars = 64 * 1024;
const cutKeys: ReadonlySet<string> = new Set([
  'dev.sigstore.cosign/certificate',
  'dev.sigstore.cosign/chain',
]);

/**
 * A flat copy: a substring (or a string JSON.parse made) may share the
 * memory of the whole manifest text it came from, which must not stay alive.
 */
const copied = (s: string): string => Buffer.from(s, 'utf16le').toString('utf16le');

/** The annotations evidence keeps of `all`: the keys Sigwatch reads, a certificate or chain cut at `maxAnnotationChars` + 1. */
export function keptAnnotations(all: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const key of keptAnnotationKeys) {
    const value = all?.[key];
    if (value !== undefined)
      kept[key] = copied(cutKeys.has(key) ? value.slice(0, maxAnnotationChars + 1) : value);
  }
  return kept;
}

export type SourceItem = 'image' | 'sig' | 'att' | 'sbom' | 'referrers';

export interface SourceStatus {
  readonly repository: string;
  readonly item: SourceItem;
  /** found: answered with content; absent: a definitive "nothing here" (404); error: no answer. */
  readonly outcome: 'found' | 'absent' | 'error';
  readonly reason?: UnknownReason;
  readonly message?: string;
  /** The tag's manifest as found (`.sig`, `.att`): a refresh whose HEAD names it reuses this answer. */
  readonly manifestDigest?: Digest;
  /**
   * Items the registry served completely but the count limits or the byte
   * budget left unjudged (the oldest ones): if nothing judged verifies, the
   * answer is the definite EvidenceLimitExceeded.
   */
  readonly omitted?: number;
  /** The tag holds content that is not a signature (attestation) manifest: definitely no valid one there. */
  readonly invalid?: string;
}

/** One layer of a cosign `.sig` manifest (or experimental sig referrer): payload + annotations. */
export interface SignatureLayer {
  readonly repository: string;
  readonly manifestDigest: Digest;
  readonly payload: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

/** One layer of a cosign `.att` manifest: a DSSE envelope + annotations. */
export interface AttestationLayer {
  readonly repository: string;
  readonly manifestDigest: Digest;
  readonly envelope: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A Sigstore bundle found as a referrer (or on the fallback tag). */
export interface BundleReferrer {
  readonly repository: string;
  readonly manifestDigest: Digest;
  readonly via: 'api' | 'fallback-tag';
  readonly mediaType: string;
  readonly bundle: Uint8Array;
  /** Unsigned hints (the predicate type; see keptAnnotations): for filtering only, never for trust. */
  readonly annotations: Readonly<Record<string, string>>;
}

/** An attached, unsigned SBOM (`.sbom` tag): inventory only, never a verdict. */
export interface AttachedSbom {
  readonly repository: string;
  readonly mediaType: string;
  readonly body: Uint8Array;
}

export interface Evidence {
  /** `registry/repository` of the image. */
  readonly repository: string;
  readonly digest: Digest;
  readonly fetchedAt: Date;
  readonly imageSeen: boolean;
  readonly imageMediaType?: string;
  readonly signatures: readonly SignatureLayer[];
  readonly attestations: readonly AttestationLayer[];
  readonly bundles: readonly BundleReferrer[];
  readonly sboms: readonly AttachedSbom[];
  readonly sources: readonly SourceStatus[];
  /** imageSeen and every source but `.sbom` (inventory only) answered definitively. */
  readonly complete: boolean;
  /** Some source served more than the count limits or the byte budget let be judged (`omitted`). */
  readonly limitExceeded: boolean;
}
