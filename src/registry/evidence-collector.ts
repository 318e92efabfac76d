/**
 * The per-digest fetch behind collectEvidence: one method per source (cosign
 * tags, referrers), each recording its outcome so the evidence can say what
 * was seen, what was definitively absent and what did not answer.
 */
import { digestHex, type Digest } from '../base/digest.js';
import type { RegistryClient, Repository } from './client.js';
import { RegistryError, unknownReasonFor } from './errors.js';
import {
  bundleMediaTypePrefix,
  cosignSigArtifactType,
  dsseMediaType,
  simpleSigningMediaType,
  type AttachedSbom,
  type AttestationLayer,
  type BundleReferrer,
  type Evidence,
  type SignatureLayer,
  type SourceItem,
  type SourceStatus,
} from './evidence-types.js';
import { MediaTypes, type Descriptor } from './manifest.js';

export const repositoryName = (r: Repository): string => `${r.registry}/${r.repository}`;
const name = repositoryName;

interface TagLayer {
  readonly repository: string;
  readonly manifestDigest: Digest;
  readonly body: Uint8Array;
  readonly annotations: Readonly<Record<string, string>>;
}

export class Collector {
  readonly sources: SourceStatus[] = [];
  readonly signatures: SignatureLayer[] = [];
  readonly attestations: AttestationLayer[] = [];
  readonly bundles: BundleReferrer[] = [];
  readonly sboms: AttachedSbom[] = [];
  /** Repositories that answered 200 to something in this fetch: their "not found" is believed. */
  readonly #answered = new Set<string>();
  /** Sources (`repository item`) found absent by an empty-bodied HEAD 404. */
  readonly #absentByHead = new Set<string>();
  readonly #repositories = new Map<string, Repository>();

  constructor(
    readonly client: RegistryClient,
    readonly signal: AbortSignal,
    readonly parent: AbortSignal,
    /** Evidence of the previous fetch: content whose manifest digest is unchanged is reused. */
    readonly previous?: Evidence,
  ) {}

  /**
   * The layers a previous fetch found under `manifestDigest` in `repo`, or
   * undefined when it did not see that manifest (then it must be fetched).
   */
  private reusable<T extends { repository: string; manifestDigest: Digest }>(
    list: readonly T[] | undefined,
    repo: Repository,
    manifestDigest: Digest,
  ): T[] | undefined {
    const same =
      list?.filter((l) => l.repository === name(repo) && l.manifestDigest === manifestDigest) ?? [];
    return same.length > 0 ? same : undefined;
  }

  /** Runs one source; registry failures are recorded, cancellations and bugs propagate. */
  async source(repo: Repository, item: SourceItem, fetch: () => Promise<boolean>): Promise<boolean> {
    this.#repositories.set(name(repo), repo);
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

  /**
   * Absence is believed only from a registry's own "not found" in a
   * repository that answers (design §3, issue 14 finding 2): a HEAD 404 from
   * a host that never answered as an OCI registry, or any 404 in a
   * `source.repository` that answered nothing else and whose tag list does
   * not answer either (it does not exist), becomes EvidenceIncomplete. The
   * image's own repository answered the image HEAD, or the evidence is
   * incomplete anyway. Costs a request only for such a silent repository.
   */
  async settle(image: Repository): Promise<void> {
    const silent = new Map<string, Repository>();
    this.sources.forEach((s, i) => {
      const repo = this.#repositories.get(s.repository);
      if (s.outcome !== 'absent' || repo === undefined) return;
      if (
        this.#absentByHead.has(`${s.repository} ${s.item}`) &&
        !this.client.answeredAsRegistry(repo.registry)
      ) {
        this.sources[i] = {
          ...s,
          outcome: 'error',
          reason: 'EvidenceIncomplete',
          message: `${s.repository}: HEAD 404 from a host that has not answered as an OCI registry`,
        };
      } else if (s.repository !== name(image) && !this.#answered.has(s.repository)) {
        silent.set(s.repository, repo);
      }
    });
    await Promise.all(
      [...silent.values()].map(async (repo) => {
        let why: Pick<SourceStatus, 'reason' | 'message'> | undefined;
        try {
          if (!(await this.client.repositoryExists(repo, this.signal)))
            why = {
              reason: 'EvidenceIncomplete',
              message: `${name(repo)}: signature repository not found (404 on its tag list)`,
            };
        } catch (error: unknown) {
          if (this.parent.aborted) throw this.parent.reason as Error;
          if (error instanceof RegistryError)
            why = { reason: unknownReasonFor(error.code), message: error.message };
          else if (this.signal.aborted)
            why = { reason: 'RegistryUnavailable', message: 'per-digest deadline exceeded' };
          else throw error;
        }
        if (why === undefined) return;
        this.sources.forEach((s, i) => {
          if (s.repository === name(repo) && s.outcome === 'absent')
            this.sources[i] = { ...s, outcome: 'error', ...why };
        });
      }),
    );
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
    this.#answered.add(name(repo));
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

  /**
   * With previous evidence, a HEAD of the tag decides: absent, unchanged (the
   * old layers, no GET) or changed (fetched). Without it, one GET does all.
   */
  private async headFirst<T extends { repository: string; manifestDigest: Digest }>(
    repo: Repository,
    tag: string,
    previous: readonly T[] | undefined,
  ): Promise<{ kind: 'absent' } | { kind: 'reuse'; layers: T[] } | { kind: 'fetch' }> {
    if (previous === undefined) return { kind: 'fetch' };
    const head = await this.client.headManifest(repo, tag, this.signal);
    if (head === undefined) return { kind: 'absent' };
    this.#answered.add(name(repo));
    const layers = this.reusable(previous, repo, head.digest);
    return layers === undefined ? { kind: 'fetch' } : { kind: 'reuse', layers };
  }

  async sig(repo: Repository, digest: Digest): Promise<boolean> {
    const tag = `sha256-${digestHex(digest)}.sig`;
    const cheap = await this.headFirst(repo, tag, this.previous?.signatures);
    if (cheap.kind === 'absent') {
      this.#absentByHead.add(`${name(repo)} sig`);
      return false;
    }
    if (cheap.kind === 'reuse') {
      this.signatures.push(...cheap.layers);
      return true;
    }
    const layers = await this.attached(repo, tag, simpleSigningMediaType);
    this.signatures.push(...(layers ?? []).map(({ body, ...l }) => ({ ...l, payload: body })));
    return layers !== undefined;
  }

  async att(repo: Repository, digest: Digest): Promise<boolean> {
    const tag = `sha256-${digestHex(digest)}.att`;
    const cheap = await this.headFirst(repo, tag, this.previous?.attestations);
    if (cheap.kind === 'absent') {
      this.#absentByHead.add(`${name(repo)} att`);
      return false;
    }
    if (cheap.kind === 'reuse') {
      this.attestations.push(...cheap.layers);
      return true;
    }
    const layers = await this.attached(repo, tag, dsseMediaType);
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
    if (listing.source === 'api' || listing.descriptors.length > 0) this.#answered.add(name(repo));
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
    // A referrer is immutable (addressed by digest): one seen before is taken from the previous fetch.
    const seenBundles = this.reusable(this.previous?.bundles, repo, desc.digest);
    const seenSignatures = this.reusable(this.previous?.signatures, repo, desc.digest);
    if (seenBundles !== undefined || seenSignatures !== undefined) {
      this.bundles.push(...(seenBundles ?? []));
      this.signatures.push(...(seenSignatures ?? []));
      return;
    }
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
