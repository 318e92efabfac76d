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
 * index's contents are immutable and kept while asked for.
 *
 * A tag is re-read on its own schedule, not only when a pod asks: every
 * `tagTtlMs` (5 minutes), or sooner when a policy's `reverifyInterval` asks
 * for it, for as long as pods keep asking; when it names something new, every
 * pod that asked is re-judged. Its last answer is served meanwhile, so an
 * answer is at most that old — except that a pod running a digest the cached
 * answer does not know re-reads the tag at once (the cache is the likelier
 * thing to be stale).
 *
 * Relations between digests are content-addressed and never change: once a
 * tag has named a single-platform manifest, or an index listing a platform
 * manifest, that is remembered, so a tag moved elsewhere later turns no
 * definite verdict into Unknown. Remembered for as long as the process runs
 * (bounded): a restarted operator that first sees a tag after it moved cannot
 * know what it named before, and answers `unresolved` as before.
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
  /** A cached tag answer younger than this is not re-read because a pod runs a digest it does not know (10 s). */
  readonly mismatchRereadMs?: number;
  /**
   * Whether a waiter (a pod key) still exists: a tag keeps being re-read on
   * its schedule for as long as a pod that asked about it lives. Without it,
   * a re-read that finds nothing new ends the schedule until a pod asks again.
   */
  readonly alive?: (waiter: string) => boolean;
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
  /** The waiters that were told `pending` or `failed` (woken whatever the answer); the rest are askers. */
  readonly explicit: Set<string>;
  /** Tags only: the pods that asked since the last scheduled re-read, re-judged when the tag moves. */
  askers?: Set<string> | undefined;
  /** Tags only: the shortest age any asker accepts, and the timer of the next re-read. */
  ttlMs?: number | undefined;
  reread?: NodeJS.Timeout | undefined;
}

/** Pods remembered per tag for its scheduled re-read; beyond it the oldest are dropped (they ask again when judged). */
const maxAskersPerTag = 5_000;

/**
 * What a tag once named, for a digest: the index it named that lists the
 * digest, or the digest itself (a single-platform image). Keyed by
 * repository, tag and digest — a fact about this tag only, so an index read
 * elsewhere (another repository, another registry, another tenant's tag)
 * can never teach a relation that changes this pod's verdict.
 */
type Relation = Digest | 'standalone';

const relationKey = (repo: Repository, tag: string, digest: Digest): string =>
  `${repo.registry}/${repo.repository}:${tag}@${digest}`;

/** Entries of an index that a node could run: attestation manifests (platform unknown/unknown) are not images. */
export const runnable = (d: { platform?: { os: string; architecture: string } }): boolean =>
  d.platform === undefined || (d.platform.os !== 'unknown' && d.platform.architecture !== 'unknown');

export class RelatedDigests {
  private readonly entries = new Map<string, Entry>();
  /** relationKey → what the tag named for that digest (content-addressed: never changes once seen), least recently used first. */
  private readonly relations = new Map<string, Relation>();
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
   * `unresolved` when the tag now names something else (it moved) and what it
   * named before is not known. `maxAgeMs`: the oldest tag answer the caller
   * accepts (a policy's `reverifyInterval`).
   */
  indexFor(
    repo: Repository,
    tag: string,
    platform: Digest,
    waiter: string,
    maxAgeMs?: number,
  ): RelatedAnswer<Digest> {
    const key = tagKey(repo, tag);
    const target = this.tagTarget(repo, tag, waiter, maxAgeMs);
    if (typeof target !== 'string' && (target.digest === platform || target.listed.includes(platform))) {
      return target.digest === platform ? 'none' : target.digest;
    }
    // What this tag once named still holds for the digest a pod runs, wherever the tag points now.
    const known = this.relation(repo, tag, platform);
    if (known !== undefined) return known === 'standalone' ? 'none' : known;
    if (typeof target === 'string') return target;
    const entry = this.entries.get(key);
    if (entry === undefined) return 'unresolved';
    // A re-read of the tag failed: the registry could not be asked, which is not an answer.
    if (entry.failed) return 'failed';
    // The cached answer does not know the running digest: re-read the tag before calling it moved.
    if (
      !entry.fetching &&
      Date.now() - entry.at >= (this.options.mismatchRereadMs ?? 10_000) &&
      this.options.active()
    ) {
      this.refresh(key, entry, this.tagFetch(repo, tag));
    }
    if (entry.fetching) {
      this.wait(entry, waiter);
      return 'pending';
    }
    return 'unresolved';
  }

  /**
   * What `tag` names now: its digest and, for an index, every manifest it
   * lists (empty for a single manifest); `unresolved` when the tag is gone.
   * The answer is at most `min(tagTtlMs, maxAgeMs)` old while pods keep asking.
   */
  tagTarget(repo: Repository, tag: string, waiter: string, maxAgeMs?: number): RelatedAnswer<TagTarget> {
    const key = tagKey(repo, tag);
    const ttl = Math.max(1_000, Math.min(this.options.tagTtlMs ?? 5 * 60_000, maxAgeMs ?? Infinity));
    const value = this.ask(key, waiter, ttl, this.tagFetch(repo, tag));
    const entry = this.entries.get(key);
    if (entry !== undefined) this.noteAsker(key, entry, waiter, ttl, () => this.tagFetch(repo, tag));
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return 'unresolved';
    return value as TagTarget;
  }

  /**
   * When `tagTarget`'s answer for `repo:tag` is due to be re-read (ms since
   * the epoch): an eviction decision that rested on it is taken again then,
   * so its pod keeps asking (a scheduled re-read re-judges only the pods
   * that asked since the last one). Undefined while a read is running or
   * failed (the waiting pods are named back) or before any answer.
   */
  tagDueAt(repo: Repository, tag: string): number | undefined {
    const entry = this.entries.get(tagKey(repo, tag));
    if (entry?.value === undefined || entry.fetching || entry.failed) return undefined;
    return entry.at + (entry.ttlMs ?? this.options.tagTtlMs ?? 5 * 60_000);
  }

  stop(): void {
    this.controller.abort();
    for (const entry of this.entries.values()) {
      clearTimeout(entry.retry);
      clearTimeout(entry.reread);
    }
  }

  /** Reads a tag, learning the relations its target shows. */
  private tagFetch(repo: Repository, tag: string): (signal: AbortSignal) => Promise<Value> {
    return async (signal) => {
      const fetched = await this.options.client.getManifest(repo, tag, signal);
      if (fetched === undefined) return 'unresolved';
      const m = fetched.manifest;
      if (m.kind !== 'index') {
        this.learn(relationKey(repo, tag, fetched.digest), 'standalone');
        return { digest: fetched.digest, listed: [] };
      }
      for (const d of m.manifests) this.learn(relationKey(repo, tag, d.digest), fetched.digest);
      return { digest: fetched.digest, listed: m.manifests.map((d) => d.digest) };
    };
  }

  private learn(key: string, relation: Relation): void {
    this.relations.delete(key);
    this.relations.set(key, relation);
    const max = this.options.maxEntries ?? 10_000;
    for (const oldest of this.relations.keys()) {
      if (this.relations.size <= max) break;
      this.relations.delete(oldest);
    }
  }

  /** What `tag` once named for `digest`, if known; a relation in use moves to the back of the eviction order. */
  private relation(repo: Repository, tag: string, digest: Digest): Relation | undefined {
    const key = relationKey(repo, tag, digest);
    const known = this.relations.get(key);
    if (known !== undefined) this.learn(key, known);
    return known;
  }

  /**
   * Remembers who asked about a tag and keeps its re-read scheduled: at the
   * shortest age an asker accepts, for as long as someone asked since the
   * last re-read; a re-read that finds the tag moved re-judges them all.
   */
  private noteAsker(
    key: string,
    entry: Entry,
    waiter: string,
    ttlMs: number,
    fetch: () => (signal: AbortSignal) => Promise<Value>,
  ): void {
    const askers = (entry.askers ??= new Set());
    askers.delete(waiter);
    askers.add(waiter);
    for (const oldest of askers) {
      if (askers.size <= maxAskersPerTag) break;
      askers.delete(oldest);
    }
    const sooner = entry.ttlMs === undefined || ttlMs < entry.ttlMs;
    entry.ttlMs = Math.min(entry.ttlMs ?? ttlMs, ttlMs);
    if (entry.reread !== undefined && !sooner) return;
    clearTimeout(entry.reread);
    entry.reread = setTimeout(() => {
      this.reread(key, entry, fetch());
    }, entry.ttlMs);
    entry.reread.unref();
  }

  private reread(key: string, entry: Entry, fetch: (signal: AbortSignal) => Promise<Value>): void {
    entry.reread = undefined;
    const alive = this.options.alive;
    const askers = [...(entry.askers ?? [])].filter((a) => alive === undefined || alive(a));
    const ttlMs = entry.ttlMs;
    // Without a way to know the pods still live, the next ask re-arms the schedule.
    entry.askers = alive === undefined ? undefined : new Set(askers);
    if (alive === undefined) entry.ttlMs = undefined;
    // Nobody left who asked (the pods are gone), or another replica leads: let it rest.
    if (askers.length === 0 || this.entries.get(key) !== entry || !this.options.active()) {
      entry.askers = undefined;
      entry.ttlMs = undefined;
      return;
    }
    if (!entry.fetching) this.refresh(key, entry, fetch, askers);
    if (alive !== undefined && ttlMs !== undefined) {
      entry.reread = setTimeout(() => {
        this.reread(key, entry, fetch);
      }, ttlMs);
      entry.reread.unref();
    }
  }

  /**
   * Re-reads a tag now. Every pod that asked about it is re-judged if it
   * names something new; those that wait on this very read are answered
   * either way.
   */
  private refresh(
    key: string,
    entry: Entry,
    fetch: (signal: AbortSignal) => Promise<Value>,
    who: Iterable<string> = entry.askers ?? [],
  ): void {
    const before = entry.value;
    const askers = new Set(who);
    for (const a of askers) entry.waiters.add(a);
    this.start(key, entry, fetch, (after) =>
      sameTarget(before, after) ? new Set([...askers].filter((a) => !entry.explicit.has(a))) : undefined,
    );
  }

  /** `waiter` was told `pending` or `failed`: it is woken when the answer comes, whatever it is. */
  private wait(entry: Entry, waiter: string): void {
    entry.waiters.add(waiter);
    entry.explicit.add(waiter);
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
      entry = {
        value: undefined,
        at: now,
        failed: false,
        fetching: false,
        waiters: new Set(),
        explicit: new Set(),
      };
      this.entries.set(key, entry);
      this.trim();
    }
    const due =
      entry.value === undefined ||
      now - entry.at >= (entry.failed ? (this.options.retryMs ?? 30_000) : ttlMs);
    if (due && !entry.fetching && this.options.active()) {
      // A refresh of an answer already given wakes its askers only if the answer changes.
      if (entry.value === undefined) this.start(key, entry, fetch);
      else this.refresh(key, entry, fetch);
    }
    // Whoever is told `pending` or `failed` hears when an answer comes (or the retry is due).
    if ((entry.fetching || entry.failed) && entry.value === undefined) this.wait(entry, waiter);
    // After a failed refresh the last real answer still holds (a tag rarely moves); with none, it is `failed`.
    if (entry.failed && entry.value === undefined) return 'failed';
    return entry.value ?? 'pending';
  }

  /** `quiet`: given the new answer, the waiters not to wake (nothing changed for them); undefined wakes all. */
  private start(
    key: string,
    entry: Entry,
    fetch: (signal: AbortSignal) => Promise<Value>,
    quiet?: (after: Value | undefined) => ReadonlySet<string> | undefined,
  ): void {
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
        const skip = entry.failed ? undefined : quiet?.(entry.value);
        if (skip !== undefined) for (const w of skip) entry.waiters.delete(w);
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
    entry.explicit.clear();
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
      clearTimeout(entry.reread);
      this.entries.delete(key);
    }
  }
}

const tagKey = (repo: Repository, tag: string): string => `tag ${repo.registry}/${repo.repository}:${tag}`;

/** Whether two tag answers name the same digest (a re-read that finds this changes nothing). */
function sameTarget(before: Value | undefined, after: Value | undefined): boolean {
  if (before === undefined || after === undefined || Array.isArray(before) || Array.isArray(after))
    return false;
  if (before === 'unresolved' || after === 'unresolved') return before === after;
  return (before as TagTarget).digest === (after as TagTarget).digest;
}
