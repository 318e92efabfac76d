/**
 * Bounds on everything a registry can make Sigwatch do (design §6). The
 * defaults are the product's; tests pass smaller ones to keep hostile-server
 * cases short. Sizes in bytes, times in milliseconds.
 */
export interface RegistryLimits {
  readonly connectTimeoutMs: number;
  /** Whole request including the body. */
  readonly requestTimeoutMs: number;
  /** Everything fetched about one digest. */
  readonly perDigestTimeoutMs: number;
  readonly maxManifestBytes: number;
  /** Signature payloads, bundles, attestations (DSSE envelopes holding SBOMs can be large). */
  readonly maxBlobBytes: number;
  /** Token responses, error bodies, tag lists. */
  readonly maxSmallBodyBytes: number;
  readonly maxRedirects: number;
  /** Layers of one `.sig`/`.att` manifest (one layer per signature). */
  readonly maxSignatures: number;
  /** Referrer descriptors over all pages. */
  readonly maxReferrers: number;
  readonly maxReferrerPages: number;
  /** Bytes of a referrers listing over all its pages (listings copy each referrer's annotations). */
  readonly maxReferrerListingBytes: number;
  /** Layers in one manifest, manifests in one index. */
  readonly maxLayers: number;
  /** A Retry-After longer than this is not waited for: the request fails RateLimited. */
  readonly maxRetryAfterMs: number;
  /** Attempts for a retryable failure (5xx, connection reset, short 429). */
  readonly maxAttempts: number;
  /** Concurrent requests per registry host. */
  readonly perRegistryConcurrency: number;
  /**
   * Manifest and blob bytes fetched for each source of one digest's evidence (one
   * repository's `.sig`, `.att`, `.sbom` or referrers; never shared, so one
   * source cannot crowd out another): the newest items that fit are fetched,
   * the rest are counted as over the limit.
   */
  readonly maxEvidenceBytes: number;
  /** Blobs (and referrer manifests) fetched at once for one digest. */
  readonly perDigestConcurrency: number;
}

export const defaultLimits: RegistryLimits = {
  connectTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  perDigestTimeoutMs: 120_000,
  maxManifestBytes: 4 << 20,
  maxBlobBytes: 64 << 20,
  maxSmallBodyBytes: 1 << 20,
  maxRedirects: 5,
  maxSignatures: 100,
  maxReferrers: 1_000,
  maxReferrerPages: 20,
  maxReferrerListingBytes: 16 << 20,
  maxLayers: 128,
  maxRetryAfterMs: 10_000,
  maxAttempts: 3,
  perRegistryConcurrency: 8,
  maxEvidenceBytes: 16 << 20,
  perDigestConcurrency: 4,
};
