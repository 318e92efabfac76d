/**
 * The per-digest fetch behind collectEvidence: one method per source (cosign
 * tags, referrers), each recording its outcome so the evidence can say what
 * was seen, what was definitively absent and what did not answer.
 */
import { digestHex, type Digest } from '../base/digest.js';
import pLimit, { type LimitFunction } from 'p-limit';
import type { FetchedManifest, RegistryClient, Repository } from './client.js';
import { RegistryError, unknownReasonFor } from './errors.js';
import {
  bundleMediaTypePrefix,
  cosignSigArtifactType,
  dsseMediaType,
  keptAnnotations,
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

/** What a source's answer said besides its items (see SourceStatus). */
type Marks = Pick<SourceStatus, 'manifestDigest' | 'omitted' | 'invalid'>;

/** A descriptor without its annotations (which may be megabytes of a manifest's text). */
const bare = (d: Descriptor): Descriptor => ({ mediaType: d.mediaType, digest: d.digest, size: d.size });

/** A blob a referrer would add to the evidence, and where its body goes once fetched. */
interface PlannedBlob {
  readonly desc: Descriptor;
  readonly keep: (body: Uint8Array) => void;
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
  readonly #marks = new Map<string, Marks>();
  /**
   * Manifest and blob bytes each source (`repository item`) may still fetch:
   * one budget per source, so what one source holds can never crowd out
   * another's evidence.
   */
  readonly #budgets = new Map<string, number>();
  readonly #blobSlots: LimitFunction;
  readonly #manifestSlots: LimitFunction;

  constructor(
    readonly client: RegistryClient,
    readonly signal: AbortSignal,
    readonly parent: AbortSignal,
    /** Evidence of the previous fetch: content whose manifest digest is unchanged is reused. */
    readonly previous?: Evidence,
  ) {
    this.#blobSlots = pLimit(client.limits.perDigestConcurrency);
    this.#manifestSlots = pLimit(client.limits.perDigestConcurrency);
  }

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
      const marks = found ? this.#marks.get(`${name(repo)} ${item}`) : undefined;
      this.sources.push({ repository: name(repo), item, outcome: found ? 'found' : 'absent', ...marks });
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
   * incomplete anyway. Costs a request only for such a silent repository,
   * and only once an hour: the client remembers a repository whose tag list
   * answered (`repositoryExists`). Meanwhile a deleted repository is still
   * safe on GETs (its `NAME_UNKNOWN` is no absence, see `getManifest`); an
   * empty-bodied HEAD 404 from it, on a host that answered as a registry,
   * does count as absence until the memory lapses: the registry itself no
   * longer holds a signature there (a deletion is the registry's own state,
   * unlike a name that never existed, which the first probe catches).
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

  /** Records what a source's answer said besides its items (merged; `omitted` adds up). */
  #mark(repo: Repository, item: SourceItem, marks: Marks): void {
    const key = `${name(repo)} ${item}`;
    const old = this.#marks.get(key) ?? {};
    const manifestDigest = marks.manifestDigest ?? old.manifestDigest;
    const invalid = marks.invalid ?? old.invalid;
    const omitted = (old.omitted ?? 0) + (marks.omitted ?? 0);
    this.#marks.set(key, {
      ...(manifestDigest === undefined ? {} : { manifestDigest }),
      ...(invalid === undefined ? {} : { invalid }),
      ...(omitted > 0 ? { omitted } : {}),
    });
  }

  /** Takes `bytes` from the source's budget (negative: gives them back); false (nothing taken) when they do not fit. */
  #reserve(repo: Repository, item: SourceItem, bytes: number): boolean {
    const key = `${name(repo)} ${item}`;
    const left = this.#budgets.get(key) ?? this.client.limits.maxEvidenceBytes;
    if (bytes > left) return false;
    this.#budgets.set(key, left - bytes);
    return true;
  }

  /**
   * Fetches the newest of `descs` (the last ones: cosign appends layers) that
   * fit the count limit and what is left of the source's byte budget, with
   * bounded concurrency; the rest are counted as omitted, never fetched. A
   * blob declared larger than `maxBlobBytes` or than the budget left is
   * skipped, and older, smaller ones may still fit.
   */
  async newest(
    repo: Repository,
    item: SourceItem,
    descs: readonly Descriptor[],
  ): Promise<{ fetched: { desc: Descriptor; body: Uint8Array }[]; omitted: number }> {
    const { maxSignatures, maxBlobBytes } = this.client.limits;
    let omitted = Math.max(0, descs.length - maxSignatures);
    const chosen: Descriptor[] = [];
    for (const desc of descs.slice(omitted).reverse()) {
      if (desc.size > maxBlobBytes || !this.#reserve(repo, item, desc.size)) {
        omitted++;
        continue;
      }
      chosen.unshift(desc);
    }
    // A body may not be larger than declared (and reserved), beyond room for a registry's error message.
    const fetched = await Promise.all(
      chosen.map((desc) =>
        this.#blobSlots(async () => ({
          desc,
          body: await this.client.getBlob(repo, desc, this.signal, Math.max(desc.size, 4096)),
        })),
      ),
    );
    return { fetched, omitted };
  }

  /**
   * The layers (of `mediaType`, if given) under a cosign tag, or undefined
   * when the tag does not exist. Content the registry served whole that is
   * not an image manifest is a definite answer: no layers, marked `invalid`;
   * so is a manifest served (200) over its size cap: no layers, `omitted`.
   */
  async tagLayers(
    repo: Repository,
    tag: string,
    item: SourceItem,
    mediaType?: string,
  ): Promise<
    { manifestDigest: Digest | undefined; layers: { desc: Descriptor; body: Uint8Array }[] } | undefined
  > {
    let m: FetchedManifest | undefined;
    try {
      m = await this.client.getManifest(repo, tag, this.signal, undefined, 'keep-last');
    } catch (error: unknown) {
      if (!(error instanceof RegistryError) || error.servedDigest === undefined) throw error;
      this.#answered.add(name(repo));
      this.#mark(repo, item, { manifestDigest: error.servedDigest, invalid: error.message });
      return { manifestDigest: error.servedDigest, layers: [] };
    }
    if (m === undefined) return undefined;
    this.#answered.add(name(repo));
    if (m.manifest.kind !== 'image') {
      this.#mark(repo, item, {
        manifestDigest: m.digest,
        invalid: `${name(repo)}:${tag} holds an image index, not a cosign signature or attestation manifest`,
      });
      return { manifestDigest: m.digest, layers: [] };
    }
    if (!this.#reserve(repo, item, m.raw.byteLength)) {
      this.#mark(repo, item, { manifestDigest: m.digest, omitted: 1 });
      return { manifestDigest: m.digest, layers: [] };
    }
    const wanted = m.manifest.layers.filter((d) => mediaType === undefined || d.mediaType === mediaType);
    const { fetched, omitted } = await this.newest(repo, item, wanted);
    this.#mark(repo, item, { manifestDigest: m.digest, omitted: omitted + (m.manifest.omitted ?? 0) });
    return { manifestDigest: m.digest, layers: fetched };
  }

  /**
   * With previous evidence, a HEAD of the tag decides: absent, unchanged (the
   * old answer: its layers and marks, no GET) or changed (fetched). Without
   * it, one GET does all.
   */
  private async headFirst<T extends { repository: string; manifestDigest: Digest }>(
    repo: Repository,
    tag: string,
    item: SourceItem,
    previous: readonly T[] | undefined,
  ): Promise<{ kind: 'absent' } | { kind: 'reuse'; layers: T[] } | { kind: 'fetch' }> {
    if (this.previous === undefined || previous === undefined) return { kind: 'fetch' };
    const head = await this.client.headManifest(repo, tag, this.signal);
    if (head === undefined) {
      this.#absentByHead.add(`${name(repo)} ${item}`);
      return { kind: 'absent' };
    }
    this.#answered.add(name(repo));
    const before = this.previous.sources.find(
      (s) =>
        s.repository === name(repo) &&
        s.item === item &&
        s.outcome === 'found' &&
        s.manifestDigest === head.digest,
    );
    if (before === undefined) return { kind: 'fetch' };
    this.#mark(repo, item, {
      manifestDigest: head.digest,
      ...(before.omitted === undefined ? {} : { omitted: before.omitted }),
      ...(before.invalid === undefined ? {} : { invalid: before.invalid }),
    });
    return { kind: 'reuse', layers: this.reusable(previous, repo, head.digest) ?? [] };
  }

  async sig(repo: Repository, digest: Digest): Promise<boolean> {
    const tag = `sha256-${digestHex(digest)}.sig`;
    const cheap = await this.headFirst(repo, tag, 'sig', this.previous?.signatures);
    if (cheap.kind === 'absent') return false;
    if (cheap.kind === 'reuse') {
      this.signatures.push(...cheap.layers);
      return true;
    }
    const got = await this.tagLayers(repo, tag, 'sig', simpleSigningMediaType);
    if (got === undefined) return false;
    const manifestDigest = got.manifestDigest;
    if (manifestDigest === undefined) return true;
    for (const { desc, body } of got.layers) {
      this.signatures.push({
        repository: name(repo),
        manifestDigest,
        payload: body,
        annotations: keptAnnotations(desc.annotations),
      });
    }
    return true;
  }

  async att(repo: Repository, digest: Digest): Promise<boolean> {
    const tag = `sha256-${digestHex(digest)}.att`;
    const cheap = await this.headFirst(repo, tag, 'att', this.previous?.attestations);
    if (cheap.kind === 'absent') return false;
    if (cheap.kind === 'reuse') {
      this.attestations.push(...cheap.layers);
      return true;
    }
    const got = await this.tagLayers(repo, tag, 'att', dsseMediaType);
    if (got === undefined) return false;
    const manifestDigest = got.manifestDigest;
    if (manifestDigest === undefined) return true;
    for (const { desc, body } of got.layers) {
      this.attestations.push({
        repository: name(repo),
        manifestDigest,
        envelope: body,
        annotations: keptAnnotations(desc.annotations),
      });
    }
    return true;
  }

  async sbom(repo: Repository, digest: Digest): Promise<boolean> {
    const got = await this.tagLayers(repo, `sha256-${digestHex(digest)}.sbom`, 'sbom');
    if (got === undefined) return false;
    for (const { desc, body } of got.layers)
      this.sboms.push({ repository: name(repo), mediaType: desc.mediaType, body });
    return true;
  }

  async referrers(repo: Repository, digest: Digest): Promise<boolean> {
    const listing = await this.client.listReferrers(repo, digest, this.signal);
    if (listing.source === 'api' || listing.descriptors.length > 0 || listing.omitted > 0)
      this.#answered.add(name(repo));
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
    // Over the count limit, the last ones are judged (a listing has no other order to go by).
    const over = Math.max(0, candidates.length - this.client.limits.maxSignatures);
    this.#mark(repo, 'referrers', { omitted: listing.omitted + over });
    // Every referrer's manifest first, then their blobs, smallest first, from the source's one budget: a valid
    // signature or bundle is small, so large content pushed beside it (listed before it or answered sooner)
    // cannot take the budget it needs.
    const planned = await Promise.all(
      candidates
        .slice(over)
        .map((d) => this.#manifestSlots(() => this.referrer(repo, digest, d, listing.source))),
    );
    const blobs = planned.flat().sort((a, b) => a.desc.size - b.desc.size);
    let omitted = 0;
    const chosen = blobs.filter((b) => {
      const fits =
        b.desc.size <= this.client.limits.maxBlobBytes && this.#reserve(repo, 'referrers', b.desc.size);
      if (!fits) omitted++;
      return fits;
    });
    this.#mark(repo, 'referrers', { omitted });
    await Promise.all(
      chosen.map((b) =>
        this.#blobSlots(async () => {
          b.keep(await this.client.getBlob(repo, b.desc, this.signal, Math.max(b.desc.size, 4096)));
        }),
      ),
    );
    return listing.descriptors.length > 0 || listing.omitted > 0;
  }

  /**
   * One referrer's manifest (charged to the referrers budget), and the blobs
   * it would add to the evidence, each with what to do with its body; the
   * caller fetches them (see `referrers`).
   */
  async referrer(
    repo: Repository,
    digest: Digest,
    desc: Descriptor,
    via: 'api' | 'fallback-tag',
  ): Promise<PlannedBlob[]> {
    // A referrer is immutable (addressed by digest): one seen before is taken from the previous fetch.
    const seenBundles = this.reusable(this.previous?.bundles, repo, desc.digest);
    const seenSignatures = this.reusable(this.previous?.signatures, repo, desc.digest);
    if (seenBundles !== undefined || seenSignatures !== undefined) {
      this.bundles.push(...(seenBundles ?? []));
      this.signatures.push(...(seenSignatures ?? []));
      return [];
    }
    // The manifest is charged to the referrers budget like a blob: its listed size first, then any more it has.
    if (desc.size > this.client.limits.maxManifestBytes || !this.#reserve(repo, 'referrers', desc.size)) {
      this.#mark(repo, 'referrers', { omitted: 1 });
      return [];
    }
    let m: FetchedManifest | undefined;
    try {
      m = await this.client.getManifest(repo, desc.digest, this.signal, undefined, 'keep-last');
    } catch (error: unknown) {
      // Served whole but no manifest Sigwatch reads: some other artifact, not a signature.
      if (error instanceof RegistryError && error.servedDigest !== undefined) return [];
      throw error;
    }
    if (m === undefined) {
      throw new RegistryError(
        'ProtocolError',
        `${name(repo)}: referrer ${desc.digest} is listed but missing`,
      );
    }
    // A listed size over the real one is given back (a fallback tag's listing is pushed content and may lie).
    const more = m.raw.byteLength - desc.size;
    if (more < 0) this.#reserve(repo, 'referrers', more);
    if (more > 0 && !this.#reserve(repo, 'referrers', more)) {
      this.#mark(repo, 'referrers', { omitted: 1 });
      return [];
    }
    if (m.manifest.kind !== 'image' || m.manifest.subject?.digest !== digest) return []; // not about this image
    const layers = m.manifest.layers;
    if (m.manifest.artifactType === cosignSigArtifactType || desc.artifactType === cosignSigArtifactType) {
      const sigs = layers.filter((x) => x.mediaType === simpleSigningMediaType);
      // Over the count limit, the newest (last) layers.
      const over = Math.max(0, sigs.length - this.client.limits.maxSignatures);
      this.#mark(repo, 'referrers', { omitted: over + (m.manifest.omitted ?? 0) });
      const manifestDigest = m.digest;
      return sigs.slice(over).map((l) => {
        // Kept annotations now, and a bare descriptor: a plan must not hold the parsed manifest until its blob is fetched.
        const annotations = keptAnnotations(l.annotations);
        return {
          desc: bare(l),
          keep: (payload: Uint8Array) => {
            this.signatures.push({ repository: name(repo), manifestDigest, payload, annotations });
          },
        };
      });
    }
    const bundleLayers = layers.filter((l) => l.mediaType.startsWith(bundleMediaTypePrefix));
    if (bundleLayers.length !== 1 || layers.length !== 1) return []; // some other artifact
    const manifestDigest = m.digest;
    const annotations = keptAnnotations(m.manifest.annotations);
    return bundleLayers.map((layer) => {
      const desc = bare(layer);
      return {
        desc,
        keep: (bundle: Uint8Array) => {
          this.bundles.push({
            repository: name(repo),
            manifestDigest,
            via,
            mediaType: desc.mediaType,
            bundle,
            annotations,
          });
        },
      };
    });
  }
}
