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
 * evidence incomplete, and a cap makes it limit-exceeded.
 */
import { withDeadline } from '../base/deadline.js';
import { digestHex, type Digest } from '../base/digest.js';
import type { UnknownReason } from '../base/reasons.js';
import type { RegistryClient, Repository } from './client.js';
import { RegistryError, unknownReasonFor } from './errors.js';
import { MediaTypes, type Descriptor } from './manifest.js';

export const bundleMediaTypePrefix = 'application/vnd.dev.sigstore.bundle';
export const simpleSigningMediaType = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const dsseMediaType = 'application/vnd.dsse.envelope.v1+json';
/** cosign's experimental OCI 1.1 mode stores legacy `.sig` content as a referrer of this type. */
export const cosignSigArtifactType = 'application/vnd.dev.cosign.artifact.sig.v1+json';

export type SourceItem = 'image' | 'sig' | 'att' | 'sbom' | 'referrers';

export interface SourceStatus {
  readonly repository: string;
  readonly item: SourceItem;
  /** found: answered with content; absent: a definitive "nothing here" (404); error: no answer. */
  readonly outcome: 'found' | 'absent' | 'error';
  readonly reason?: UnknownReason;
  readonly message?: string;
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
  /** Unsigned hints (predicate type, content): for filtering only, never for trust. */
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
  /** imageSeen and every source answered definitively. */
  readonly complete: boolean;
  /** Some cap (signatures, referrers, sizes, pages) was exceeded. */
  readonly limitExceeded: boolean;
}

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
  readonly now: Date;
  readonly signal: AbortSignal;
}

const name = (r: Repository): string => `${r.registry}/${r.repository}`;

interface TagLayer {
  readonly repository: string;
  readonly manifestDigest: Digest;
  readonly body: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

class Collector {
  readonly sources: SourceStatus[] = [];
  readonly signatures: SignatureLayer[] = [];
  readonly attestations: AttestationLayer[] = [];
  readonly bundles: BundleReferrer[] = [];
  readonly sboms: AttachedSbom[] = [];

  constructor(
    readonly client: RegistryClient,
    readonly signal: AbortSignal,
    readonly parent: AbortSignal,
  ) {}

  /** Runs one source; registry failures are recorded, cancellations and bugs propagate. */
  async source(repo: Repository, item: SourceItem, fetch: () => Promise<boolean>): Promise<boolean> {
    try {
      const found = await fetch();
      this.sources.push({ repository: name(repo), item, outcome: found ? 'found' : 'absent' });
      return found;
    } catch (error: unknown) {
      if (this.parent.aborted) throw this.parent.reason as Error;
      if (error instanceof RegistryError) {
        this.sources.push({
          repository: name(repo),
          item,
          outcome: 'error',
          reason: unknownReasonFor(error.code),
          message: error.message,
        });
        return false;
      }
      if (this.signal.aborted) {
        // The per-digest deadline fired inside a non-registry await.
        this.sources.push({
          repository: name(repo),
          item,
          outcome: 'error',
          reason: 'RegistryUnavailable',
          message: 'per-digest deadline exceeded',
        });
        return false;
      }
      throw error;
    }
  }

  capped(count: number, what: string): void {
    if (count > this.client.limits.maxSignatures) {
      throw new RegistryError(
        'LimitExceeded',
        `${what} has ${String(count)} entries, more than ${String(this.client.limits.maxSignatures)}`,
      );
    }
  }

  async tagLayers(
    repo: Repository,
    tag: string,
  ): Promise<{ manifestDigest: Digest; layers: { desc: Descriptor; body: Uint8Array }[] } | undefined> {
    const m = await this.client.getManifest(repo, tag, this.signal);
    if (m === undefined) return undefined;
    if (m.manifest.kind !== 'image')
      throw new RegistryError('ProtocolError', `${name(repo)}:${tag} is not an image manifest`);
    this.capped(m.manifest.layers.length, `${name(repo)}:${tag}`);
    const layers = await Promise.all(
      m.manifest.layers.map(async (desc) => ({
        desc,
        body: await this.client.getBlob(repo, desc, this.signal),
      })),
    );
    return { manifestDigest: m.digest, layers };
  }

  /** The layers of one media type under a cosign tag, or undefined when the tag does not exist. */
  async attached(repo: Repository, tag: string, mediaType: string): Promise<TagLayer[] | undefined> {
    const got = await this.tagLayers(repo, tag);
    return got?.layers
      .filter(({ desc }) => desc.mediaType === mediaType)
      .map(({ desc, body }) => ({
        repository: name(repo),
        manifestDigest: got.manifestDigest,
        body,
        annotations: desc.annotations ?? {},
      }));
  }

  async sig(repo: Repository, digest: Digest): Promise<boolean> {
    const layers = await this.attached(repo, `sha256-${digestHex(digest)}.sig`, simpleSigningMediaType);
    this.signatures.push(...(layers ?? []).map(({ body, ...l }) => ({ ...l, payload: body })));
    return layers !== undefined;
  }

  async att(repo: Repository, digest: Digest): Promise<boolean> {
    const layers = await this.attached(repo, `sha256-${digestHex(digest)}.att`, dsseMediaType);
    this.attestations.push(...(layers ?? []).map(({ body, ...l }) => ({ ...l, envelope: body })));
    return layers !== undefined;
  }

  async sbom(repo: Repository, digest: Digest): Promise<boolean> {
    const got = await this.tagLayers(repo, `sha256-${digestHex(digest)}.sbom`);
    if (got === undefined) return false;
    for (const { desc, body } of got.layers)
      this.sboms.push({ repository: name(repo), mediaType: desc.mediaType, body });
    return true;
  }

  async referrers(repo: Repository, digest: Digest): Promise<boolean> {
    const listing = await this.client.listReferrers(repo, digest, this.signal);
    // artifactType is a hint: registries that report the config media type
    // (go-containerregistry) show bundles as the empty type, so those are
    // fetched and judged by their layer too.
    const candidates = listing.descriptors.filter(
      (d) =>
        d.artifactType === undefined ||
        d.artifactType.startsWith(bundleMediaTypePrefix) ||
        d.artifactType === MediaTypes.ociEmpty ||
        d.artifactType === cosignSigArtifactType,
    );
    this.capped(candidates.length, `referrers of ${digest}`);
    await Promise.all(candidates.map((d) => this.referrer(repo, digest, d, listing.source)));
    return listing.descriptors.length > 0;
  }

  async referrer(
    repo: Repository,
    digest: Digest,
    desc: Descriptor,
    via: 'api' | 'fallback-tag',
  ): Promise<void> {
    const m = await this.client.getManifest(repo, desc.digest, this.signal);
    if (m === undefined) {
      throw new RegistryError(
        'ProtocolError',
        `${name(repo)}: referrer ${desc.digest} is listed but missing`,
      );
    }
    if (m.manifest.kind !== 'image' || m.manifest.subject?.digest !== digest) return; // not about this image
    const layers = m.manifest.layers;
    if (m.manifest.artifactType === cosignSigArtifactType || desc.artifactType === cosignSigArtifactType) {
      this.capped(layers.length, `referrer ${desc.digest}`);
      for (const l of layers.filter((x) => x.mediaType === simpleSigningMediaType)) {
        const payload = await this.client.getBlob(repo, l, this.signal);
        this.signatures.push({
          repository: name(repo),
          manifestDigest: m.digest,
          payload,
          annotations: l.annotations ?? {},
        });
      }
      return;
    }
    const bundleLayers = layers.filter((l) => l.mediaType.startsWith(bundleMediaTypePrefix));
    if (bundleLayers.length !== 1 || layers.length !== 1) return; // some other artifact
    const layer = bundleLayers[0];
    if (layer === undefined) return;
    const bundle = await this.client.getBlob(repo, layer, this.signal);
    this.bundles.push({
      repository: name(repo),
      manifestDigest: m.digest,
      via,
      mediaType: layer.mediaType,
      bundle,
      annotations: m.manifest.annotations ?? {},
    });
  }
}

/**
 * Collects the evidence for one digest under the per-digest deadline.
 * Registry failures never throw: they are recorded per source. Throws only
 * when `signal` (the caller's) aborts — a cancellation has no verdict.
 */
export async function collectEvidence(client: RegistryClient, options: CollectOptions): Promise<Evidence> {
  const signal = withDeadline(options.signal, client.limits.perDigestTimeoutMs);
  const c = new Collector(client, signal, options.signal);
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
    complete: imageSeen && c.sources.every((s) => s.outcome !== 'error'),
    limitExceeded: c.sources.some((s) => s.reason === 'EvidenceLimitExceeded'),
  };
}
