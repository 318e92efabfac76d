/**
 * The digests related to a reported one, for `match.signatureOn` (design
 * §4.1): the platform manifests an index lists, and the index a pod's tag
 * resolves to when the runtime reported a platform manifest.
 *
 * Answers are synchronous — an answer, `pending` (a fetch was started; the
 * waiting pods are named back through `onResolved`) or `unresolved` — so the
 * controller's reconcile loop never waits on a registry. Only the leader
 * fetches (`active`). An index's contents are immutable and kept while
 * asked for; a tag is re-resolved after `tagTtlMs`, its last answer served
 * meanwhile; a failed fetch is retried after `retryMs`.
 */
import type { Digest } from '../base/digest.js';
import type { RegistryClient, Repository } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import type { Logger } from './logger.js';

export type RelatedAnswer<T> = T | 'pending' | 'unresolved';

export interface RelatedDigestsOptions {
  readonly client: RegistryClient;
  readonly logger: Logger;
  readonly active: () => boolean;
  /** Called with the pod keys that asked while a fetch was running, once it ends. */
  readonly onResolved: (waiters: ReadonlySet<string>) => void;
  readonly tagTtlMs?: number;
  readonly retryMs?: number;
  readonly timeoutMs?: number;
  /** Entries kept; the least recently asked are dropped beyond it. */
  readonly maxEntries?: number;
}

interface Entry<T> {
  value: RelatedAnswer<T>;
  at: number;
  failed: boolean;
  fetching: boolean;
  readonly waiters: Set<string>;
}

/** Entries of an index that a node could run: attestation manifests (platform unknown/unknown) are not images. */
const runnable = (d: { platform?: { os: string; architecture: string } }): boolean =>
  d.platform === undefined || (d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown');

export class RelatedDigests {
  private readonly entries = new Map<string, Entry<readonly Digest[] | Digest>>();
  private readonly controller = new AbortController();

  constructor(private readonly options: RelatedDigestsOptions) {}

  /** The runnable platform manifests `index` lists (empty when it is not an index). */
  platformsOf(repo: Repository, index: Digest, waiter: string): RelatedAnswer<readonly Digest[]> {
    const answer = this.ask(
      `platforms ${repo.registry}/${repo.repository}@${index}`,
      waiter,
      Infinity,
      async (signal) => {
        const fetched = await this.options.client.getManifest(repo, index, signal);
        if (fetched === undefined) return 'unresolved';
        const m = fetched.manifest;
        return m.kind === 'index' ? m.manifests.filter(runnable).map((d) => d.digest) : [];
      },
    );
    return answer;
  }

  /** The index `tag` resolves to, if it lists `platform`; `unresolved` otherwise. */
  indexFor(repo: Repository, tag: string, platform: Digest, waiter: string): RelatedAnswer<Digest> {
    const ttl = this.options.tagTtlMs ?? 5 * 60_000;
    const listing = this.ask(
      `tag ${repo.registry}/${repo.repository}:${tag}`,
      waiter,
      ttl,
      async (signal) => {
        const fetched = await this.options.client.getManifest(repo, tag, signal);
        const m = fetched?.manifest;
        if (fetched === undefined || m?.kind !== 'index') return 'unresolved';
        // Keep the index digest with what it lists, so one fetch answers every platform.
        return [fetched.digest, ...m.manifests.map((d) => d.digest)];
      },
    );
    if (listing === 'pending' || listing === 'unresolved' || typeof listing === 'string') return listing;
    const [indexDigest, ...listed] = listing;
    return indexDigest !== undefined && listed.includes(platform) ? indexDigest : 'unresolved';
  }

  stop(): void {
    this.controller.abort();
  }

  private ask<T extends readonly Digest[] | Digest>(
    key: string,
    waiter: string,
    ttlMs: number,
    fetch: (signal: AbortSignal) => Promise<RelatedAnswer<T>>,
  ): RelatedAnswer<T> {
    const now = Date.now();
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      // Most recently asked last, for eviction.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = { value: 'pending', at: now, failed: false, fetching: false, waiters: new Set() };
      this.entries.set(key, entry);
      this.trim();
    }
    const stale =
      entry.value === 'pending' ||
      now - entry.at >= (entry.failed ? (this.options.retryMs ?? 30_000) : ttlMs);
    if (stale && !entry.fetching && this.options.active()) this.start(key, entry, fetch);
    if (entry.value === 'pending') entry.waiters.add(waiter);
    return entry.value as RelatedAnswer<T>;
  }

  private start<T extends readonly Digest[] | Digest>(
    key: string,
    entry: Entry<readonly Digest[] | Digest>,
    fetch: (signal: AbortSignal) => Promise<RelatedAnswer<T>>,
  ): void {
    entry.fetching = true;
    const signal = AbortSignal.any([
      this.controller.signal,
      AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    ]);
    void fetch(signal)
      .then((value) => {
        entry.value = value;
        entry.failed = false;
      })
      .catch((error: unknown) => {
        // A registry failure leaves a previous answer in place; with none, the digest cannot be related (Unknown).
        if (entry.value === 'pending') entry.value = 'unresolved';
        entry.failed = true;
        this.options.logger.warn('could not resolve related digests', {
          what: key,
          error: error instanceof RegistryError ? `${error.code}: ${error.message}` : String(error),
        });
      })
      .finally(() => {
        entry.at = Date.now();
        entry.fetching = false;
        const waiters = new Set(entry.waiters);
        entry.waiters.clear();
        if (waiters.size > 0 && !this.controller.signal.aborted) this.options.onResolved(waiters);
      });
  }

  private trim(): void {
    const max = this.options.maxEntries ?? 10_000;
    for (const key of this.entries.keys()) {
      if (this.entries.size <= max) return;
      this.entries.delete(key);
    }
  }
}
