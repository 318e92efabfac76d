/**
 * The digests related to a reported one, for `match.signatureOn` (design
 * §4.1): the platform manifests an index lists, and the index a pod's tag
 * resolves to when the runtime reported a platform manifest.
 *
 * Answers are synchronous — an answer, `pending` (a fetch is running; the
 * pods that asked are named back through `onResolved` when it ends),
 * `failed` (the registry could not be asked and there is no earlier answer;
 * retried after `retryMs`, the waiting pods named back then too) — so the controller's reconcile
 * loop never waits on a registry. Only the leader fetches (`active`). An
 * index's contents are immutable and kept while asked for; a tag is
 * re-resolved after `tagTtlMs`, its last answer served meanwhile.
 */
import type { Digest } from '../../base/digest.js';
import type { RegistryClient, Repository } from '../../registry/client.js';
import { RegistryError } from '../../registry/errors.js';
import type { Logger } from '../kube/logger.js';

export type RelatedAnswer<T> = T | 'pending' | 'failed' | 'none' | 'unresolved';

export interface RelatedDigestsOptions {
  readonly client: RegistryClient;
  readonly logger: Logger;
  readonly active: () => boolean;
  /** Called with the pod keys that asked while a fetch was running or failed, once it ends or is due again. */
  readonly onResolved: (waiters: ReadonlySet<string>) => void;
  readonly tagTtlMs?: number;
  readonly retryMs?: number;
  readonly timeoutMs?: number;
  /** Entries kept; the least recently asked are dropped beyond it. */
  readonly maxEntries?: number;
}

/** What a tag resolved to: its digest and, for an index, what it lists (empty for a single manifest). */
export interface TagTarget {
  readonly digest: Digest;
  readonly listed: readonly Digest[];
}

type Value = readonly Digest[] | TagTarget | 'unresolved';

interface Entry {
  /** undefined until the first fetch ends. */
  value: Value | undefined;
  at: number;
  failed: boolean;
  fetching: boolean;
  retry?: NodeJS.Timeout | undefined;
  readonly waiters: Set<string>;
}

/** Entries of an index that a node could run: attestation manifests (platform unknown/unknown) are not images. */
export const runnable = (d: { platform?: { os: string; architecture: string } }): boolean =>
  d.platform === undefined || (d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown');

export class RelatedDigests {
  private readonly entries = new Map<string, Entry>();
  private readonly controller = new AbortController();

  constructor(private readonly options: RelatedDigestsOptions) {}

  /** The runnable platform manifests `index` lists (`none` when it lists none). */
  platformsOf(repo: Repository, index: Digest, waiter: string): RelatedAnswer<readonly Digest[]> {
    const value = this.ask(
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
    if (typeof value === 'string') return value;
    if (!Array.isArray(value)) return 'unresolved';
    const platforms = value as readonly Digest[];
    return platforms.length === 0 ? 'none' : platforms;
  }

  /**
   * The index `tag` resolves to, if it lists `platform`; `none` when the tag
   * names `platform` itself (a single-platform image: there is no index);
   * `unresolved` when the tag now names something else (it moved).
   */
  indexFor(repo: Repository, tag: string, platform: Digest, waiter: string): RelatedAnswer<Digest> {
    const target = this.tagTarget(repo, tag, waiter);
    if (typeof target === 'string') return target;
    if (target.listed.length === 0) return target.digest === platform ? 'none' : 'unresolved';
    return target.listed.includes(platform) ? target.digest : 'unresolved';
  }

  /**
   * What `tag` names now: its digest and, for an index, every manifest it
   * lists (empty for a single manifest); `unresolved` when the tag is gone.
   */
  tagTarget(repo: Repository, tag: string, waiter: string): RelatedAnswer<TagTarget> {
    const ttl = this.options.tagTtlMs ?? 5 * 60_000;
    const value = this.ask(`tag ${repo.registry}/${repo.repository}:${tag}`, waiter, ttl, async (signal) => {
      const fetched = await this.options.client.getManifest(repo, tag, signal);
      if (fetched === undefined) return 'unresolved';
      const m = fetched.manifest;
      return { digest: fetched.digest, listed: m.kind === 'index' ? m.manifests.map((d) => d.digest) : [] };
    });
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return 'unresolved';
    return value as TagTarget;
  }

  stop(): void {
    this.controller.abort();
    for (const entry of this.entries.values()) clearTimeout(entry.retry);
  }

  private ask(
    key: string,
    waiter: string,
    ttlMs: number,
    fetch: (signal: AbortSignal) => Promise<Value>,
  ): Value | 'pending' | 'failed' {
    const now = Date.now();
    let entry = this.entries.get(key);
    if (entry !== undefined) {
      // Most recently asked last, for eviction.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      entry = { value: undefined, at: now, failed: false, fetching: false, waiters: new Set() };
      this.entries.set(key, entry);
      this.trim();
    }
    const due =
      entry.value === undefined ||
      now - entry.at >= (entry.failed ? (this.options.retryMs ?? 30_000) : ttlMs);
    if (due && !entry.fetching && this.options.active()) this.start(key, entry, fetch);
    // Whoever asks while an answer is coming (or will be retried) hears about it.
    if (entry.fetching || entry.failed) entry.waiters.add(waiter);
    // After a failed refresh the last real answer still holds (a tag rarely moves); with none, it is `failed`.
    if (entry.failed && entry.value === undefined) return 'failed';
    return entry.value ?? 'pending';
  }

  private start(key: string, entry: Entry, fetch: (signal: AbortSignal) => Promise<Value>): void {
    entry.fetching = true;
    clearTimeout(entry.retry);
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
        // A registry failure is never an answer: `failed` is Unknown to the caller, never `none`.
        entry.failed = true;
        this.options.logger.warn('could not resolve related digests', {
          what: key,
          error: error instanceof RegistryError ? `${error.code}: ${error.message}` : String(error),
        });
      })
      .finally(() => {
        entry.at = Date.now();
        entry.fetching = false;
        if (this.controller.signal.aborted) return;
        this.notify(entry);
        if (entry.failed) {
          // Nothing else re-judges these pods: wake them when the retry is due.
          entry.retry = setTimeout(() => {
            this.notify(entry);
          }, this.options.retryMs ?? 30_000);
          entry.retry.unref();
        }
      });
  }

  private notify(entry: Entry): void {
    if (entry.waiters.size === 0) return;
    const waiters = new Set(entry.waiters);
    entry.waiters.clear();
    this.options.onResolved(waiters);
  }

  private trim(): void {
    const max = this.options.maxEntries ?? 10_000;
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= max) return;
      clearTimeout(entry.retry);
      this.entries.delete(key);
    }
  }
}
