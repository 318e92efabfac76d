/**
 * Evidence for admission (issue 17): answered from memory whenever it can
 * be — the evidence store's entry for a running digest (the leader's), or
 * this replica's own short-lived admission cache — and fetched otherwise,
 * by any replica: admission must not wait for the leader, and a fetch
 * writes nothing. Fetches go through the operator's registry client (the
 * same limits, credentials and per-registry concurrency), are shared while
 * in flight (a Deployment, its ReplicaSet and its pods ask for the same
 * digest within seconds), bounded in number, and cut off by the request's
 * deadline. Only complete evidence is cached; incomplete evidence judges
 * the request at hand as Unknown and is fetched again next time.
 */
import pLimit from 'p-limit';
import { untilAborted } from '../../base/deadline.js';
import type { Digest } from '../../base/digest.js';
import type { ReadyPolicy } from '../../policy/compile.js';
import type { RegistryClient } from '../../registry/client.js';
import { compactEvidence } from '../../registry/compact.js';
import { RegistryError } from '../../registry/errors.js';
import { collectEvidence, type Evidence } from '../../registry/evidence.js';
import type { ImageReference } from '../../registry/reference.js';
import { runnable } from '../evidence/related-digests.js';
import {
  evidenceCovers,
  evidenceKeyString,
  evidenceNeeds,
  type EvidenceKey,
  type EvidenceNeeds,
} from '../evidence/store.js';

export interface AdmissionEvidenceOptions {
  readonly client: RegistryClient;
  /** Complete evidence held for running digests, if fetched within `maxAgeMs` and covering `needs`. */
  readonly recent: (id: string, maxAgeMs: number, needs: EvidenceNeeds) => Evidence | undefined;
  /** Admission fetches at once (default 8); more wait their turn within their deadline. */
  readonly concurrency?: number;
  /** Digests remembered (default 1,024), least recently used dropped first. */
  readonly maxEntries?: number;
  /** How long a fetched answer is reused (default 2 minutes, never beyond the policies' interval). */
  readonly ttlMs?: number;
  /** Told where each answer came from (the admission metrics). */
  readonly onLookup?: (source: 'memory' | 'fetched') => void;
}

/** A shared fetch's own deadline (an admission answers within 8 s). */
const fetchDeadlineMs = 8_000;

/** How long a tag's digest is reused. */
const tagMemoryMs = 30_000;

/** Platform manifests of one index judged at most (real indexes list a handful). */
const maxPlatforms = 32;

interface Cached {
  readonly evidence: Evidence;
  readonly at: number;
}

export class AdmissionEvidence {
  private readonly cache = new Map<string, Cached>();
  private readonly platforms = new Map<string, readonly Digest[] | 'none' | 'unresolved'>();
  private readonly tags = new Map<string, { readonly digest: Digest | undefined; readonly at: number }>();
  private readonly inFlight = new Map<string, Promise<Evidence>>();
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly maxEntries: number;
  private readonly ttlMs: number;

  constructor(private readonly options: AdmissionEvidenceOptions) {
    this.limit = pLimit(options.concurrency ?? 8);
    this.maxEntries = options.maxEntries ?? 1024;
    this.ttlMs = options.ttlMs ?? 120_000;
  }

  /**
   * The digest a tag names now, as the kubelet's runtime reads it: a HEAD
   * (registries such as Docker Hub count a manifest GET as a pull), the GET
   * only when the HEAD answer cannot be trusted (no digest header, or a 404
   * from something not yet known to be a registry). Remembered for 30 s:
   * the mutating and the validating webhook, and a Deployment, its
   * ReplicaSet and its pods, resolve the same tag within seconds.
   * @throws RegistryError
   */
  async resolve(ref: ImageReference, signal: AbortSignal): Promise<Digest | undefined> {
    const repo = { registry: ref.registry, repository: ref.repository };
    const tag = ref.tag ?? 'latest';
    const id = `${ref.registry}/${ref.repository}:${tag}`;
    const hit = this.tags.get(id);
    if (hit !== undefined && Date.now() - hit.at <= tagMemoryMs) return hit.digest;
    const digest = await this.resolveNow(repo, tag, signal);
    remember(this.tags, id, { digest, at: Date.now() }, this.maxEntries);
    return digest;
  }

  private async resolveNow(
    repo: { registry: string; repository: string },
    tag: string,
    signal: AbortSignal,
  ): Promise<Digest | undefined> {
    try {
      const head = await this.options.client.headManifest(repo, tag, signal);
      if (head !== undefined) return head.digest;
      if (this.options.client.answeredAsRegistry(repo.registry)) return undefined;
    } catch (error: unknown) {
      // Only a HEAD without a usable digest header is worth a GET; an outage is an outage.
      if (!(error instanceof RegistryError) || error.code !== 'ProtocolError') throw error;
    }
    try {
      return (await this.options.client.getManifest(repo, tag, signal))?.digest;
    } catch (error: unknown) {
      // A manifest that arrived whole but is of a kind Sigwatch does not read still has a digest to judge.
      if (error instanceof RegistryError && error.servedDigest !== undefined) return error.servedDigest;
      throw error;
    }
  }

  /**
   * The runnable platform manifests an index lists (`none`: it lists none,
   * or `digest` is no index; `unresolved`: gone, or more than 32 — too many
   * to judge within an admission deadline). An index never changes: cached.
   * @throws RegistryError
   */
  async platformsOf(
    key: EvidenceKey,
    signal: AbortSignal,
  ): Promise<readonly Digest[] | 'none' | 'unresolved'> {
    const id = evidenceKeyString(key);
    const known = this.platforms.get(id);
    if (known !== undefined) return known;
    const fetched = await this.options.client.getManifest(
      { registry: key.registry, repository: key.repository },
      key.digest,
      signal,
    );
    const listed = fetched?.manifest.kind === 'index' ? fetched.manifest.manifests.filter(runnable) : [];
    const answer =
      fetched === undefined || listed.length > maxPlatforms
        ? 'unresolved'
        : listed.length === 0
          ? 'none'
          : listed.map((d) => d.digest);
    // An index never changes; a missing one may yet be pushed.
    if (answer !== 'unresolved') remember(this.platforms, id, answer, this.maxEntries);
    return answer;
  }

  /** @throws RegistryError, or the signal's reason */
  async evidence(key: EvidenceKey, policies: readonly ReadyPolicy[], signal: AbortSignal): Promise<Evidence> {
    const needs = evidenceNeeds(policies, false);
    const id = evidenceKeyString(key);
    const maxAgeMs = Math.min(this.ttlMs, needs.intervalMs);
    const held = this.options.recent(id, needs.intervalMs, needs) ?? this.cached(id, maxAgeMs, needs);
    if (held !== undefined) {
      this.options.onLookup?.('memory');
      return held;
    }
    this.options.onLookup?.('fetched');
    const flightKey = `${id}|${String(needs.attestations)}|${needs.extraRepositories
      .map((r) => `${r.registry}/${r.repository}`)
      .sort()
      .join(',')}`;
    let flight = this.inFlight.get(flightKey);
    if (flight === undefined) {
      // The shared fetch has its own deadline, one admission's worth: a caller that gives up does not
      // cut it short for the others, who each wait at most their own.
      flight = this.limit(() => this.fetch(key, needs, AbortSignal.timeout(fetchDeadlineMs))).finally(() =>
        this.inFlight.delete(flightKey),
      );
      this.inFlight.set(flightKey, flight);
    }
    return untilAborted(flight, signal);
  }

  private cached(id: string, maxAgeMs: number, needs: EvidenceNeeds): Evidence | undefined {
    const hit = this.cache.get(id);
    if (hit === undefined || Date.now() - hit.at > maxAgeMs || !evidenceCovers(hit.evidence, needs))
      return undefined;
    // Least recently used goes first: re-inserting moves it to the end.
    this.cache.delete(id);
    this.cache.set(id, hit);
    return hit.evidence;
  }

  private async fetch(key: EvidenceKey, needs: EvidenceNeeds, signal: AbortSignal): Promise<Evidence> {
    signal.throwIfAborted();
    const evidence = compactEvidence(
      await collectEvidence(this.options.client, {
        image: { registry: key.registry, repository: key.repository },
        digest: key.digest,
        extraRepositories: needs.extraRepositories,
        include: { attestations: needs.attestations, attachedSboms: false },
        now: new Date(),
        signal,
      }),
    );
    if (evidence.complete) {
      const id = evidenceKeyString(key);
      remember(this.cache, id, { evidence, at: Date.now() }, this.maxEntries);
    }
    return evidence;
  }
}

/** Sets `key` as the most recent entry of `map` and drops the least recent beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}
