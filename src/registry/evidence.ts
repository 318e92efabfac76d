/**
 * Evidence: everything the registries hold about one image digest, fetched
 * with the fewest requests (independent ones in parallel) and returned as
 * plain data for the pure evaluator to judge and for the evidence store to
 * cache.
 *
 * Sources per repository (the image's own, plus any an authority names as
 * `source.repository`, cosign's COSIGN_REPOSITORY scheme):
 *   - `sha256-<hex>.sig`, `.att`, `.sbom` tags (cosign's legacy layout);
 *   - OCI 1.1 referrers of the digest, or the `sha256-<hex>` fallback tag.
 *
 * Completeness is part of the evidence (design §3): `imageSeen` records that
 * the image manifest itself answered in the image's repository in this fetch,
 * and every source records whether it answered definitively. Only complete
 * evidence may ever support "missing"; a source that errored makes the
 * evidence incomplete. A source served completely but over the count limits
 * or its own byte budget records what it left out (`omitted`), one
 * holding something other than a signature manifest says so (`invalid`):
 * both are definite answers.
 */
import { withDeadline } from '../base/deadline.js';
import type { Digest } from '../base/digest.js';
import type { RegistryClient, Repository } from './client.js';
import { Collector, repositoryName as name } from './evidence-collector.js';
import type { Evidence } from './evidence-types.js';

export type {
  AttachedSbom,
  AttestationLayer,
  BundleReferrer,
  Evidence,
  SignatureLayer,
  SourceItem,
  SourceStatus,
} from './evidence-types.js';
export {
  bundleMediaTypePrefix,
  cosignSigArtifactType,
  dsseMediaType,
  simpleSigningMediaType,
} from './evidence-types.js';

export interface CollectOptions {
  readonly image: Repository;
  readonly digest: Digest;
  /** Further repositories holding signatures for this digest (`source.repository`). */
  readonly extraRepositories?: readonly Repository[];
  /**
   * Which sources to read. Default: everything. A signature-only check
   * (`sigwatch verify` without a policy) skips `.att` and `.sbom`, saving two
   * requests per repository; skipped sources are not listed in `sources` and
   * their lists stay empty, so such evidence must not be judged for attestations.
   */
  readonly include?: { readonly attestations?: boolean; readonly attachedSboms?: boolean };
  /**
   * The last evidence for this digest, for a cheap refresh: a cosign tag is
   * HEADed and its layers reused when its manifest digest has not changed,
   * and a referrer already seen is not fetched again. Steady state is then a
   * HEAD of the image, a HEAD per tag and one referrers GET per repository.
   */
  readonly previous?: Evidence;
  readonly now: Date;
  readonly signal: AbortSignal;
}

/**
 * Collects the evidence for one digest under the per-digest deadline.
 * Registry failures never throw: they are recorded per source. Throws only
 * when `signal` (the caller's) aborts — a cancellation has no verdict.
 */
export async function collectEvidence(client: RegistryClient, options: CollectOptions): Promise<Evidence> {
  const signal = withDeadline(options.signal, client.limits.perDigestTimeoutMs);
  const c = new Collector(client, signal, options.signal, options.previous);
  const { image, digest } = options;
  let imageMediaType: string | undefined;
  const repos = [image, ...(options.extraRepositories ?? []).filter((r) => name(r) !== name(image))];
  const jobs: Promise<boolean>[] = [
    c.source(image, 'image', async () => {
      const head = await client.headManifest(image, digest, signal);
      imageMediaType = head?.mediaType;
      return head !== undefined;
    }),
  ];
  for (const repo of repos) {
    jobs.push(c.source(repo, 'sig', () => c.sig(repo, digest)));
    if (options.include?.attestations !== false) jobs.push(c.source(repo, 'att', () => c.att(repo, digest)));
    jobs.push(c.source(repo, 'referrers', () => c.referrers(repo, digest)));
    if (options.include?.attachedSboms !== false)
      jobs.push(c.source(repo, 'sbom', () => c.sbom(repo, digest)));
  }
  await Promise.all(jobs);
  await c.settle(image);
  const imageSeen = c.sources.some((s) => s.item === 'image' && s.outcome === 'found');
  return {
    repository: name(image),
    digest,
    fetchedAt: options.now,
    imageSeen,
    ...(imageMediaType === undefined ? {} : { imageMediaType }),
    signatures: c.signatures,
    attestations: c.attestations,
    bundles: c.bundles,
    sboms: c.sboms,
    sources: c.sources,
    // Attached `.sbom` images feed the inventory, never a verdict: their failure leaves the verdict decidable.
    complete: imageSeen && c.sources.every((s) => s.outcome !== 'error' || s.item === 'sbom'),
    limitExceeded: c.sources.some((s) => (s.omitted ?? 0) > 0 && s.item !== 'sbom'),
  };
}
