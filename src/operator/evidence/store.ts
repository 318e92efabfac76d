/**
 * Evidence per (repository, digest), shared by every pod and policy that
 * needs it (design §4.3): fetched once, deduplicated while in flight,
 * refreshed at the shortest `reverifyInterval` of the policies that need it
 * (jittered, so a thousand digests do not refresh in the same second), and
 * retried sooner with backoff while the registry fails. A refresh that
 * found the same content keeps the old evidence object, so nothing is
 * re-evaluated; a changed one replaces it and tells the controller.
 */
import type { Digest } from '../../base/digest.js';
import type { RegistryClient, Repository } from '../../registry/client.js';
import { compactEvidence } from '../../registry/compact.js';
import { collectEvidence, type Evidence } from '../../registry/evidence.js';
import type { ReadyPolicy } from '../../policy/compile.js';
import { parseDuration } from '../../policy/duration.js';
import { sourceRepositories, unlooked } from '../../policy/evidence-scope.js';
import type { Logger } from '../kube/logger.js';

export interface EvidenceNeeds {
  /** Whether `.att` tags must be read (attestation or SBOM rules). */
  readonly attestations: boolean;
  /** `source.repository` of the authorities of the policies involved. */
  readonly extraRepositories: readonly Repository[];
  readonly intervalMs: number;
  /** Whether unsigned `.sbom` attachments are read too (package queries', never a verdict's). */
  readonly attachedSboms?: boolean;
}

/**
 * What fetching a digest's evidence must cover for `policies`: attestations
 * if any reads them, the authorities' signature repositories, the shortest
 * re-verification interval.
 */
export function evidenceNeeds(policies: readonly ReadyPolicy[], attachedSboms: boolean): EvidenceNeeds {
  return {
    attestations: policies.some((p) => p.needsAttestations),
    attachedSboms,
    extraRepositories: sourceRepositories(policies),
    intervalMs: Math.min(...policies.map((p) => parseDuration(p.spec.reverifyInterval) ?? 3_600_000)),
  };
}

/** Whether `evidence` looked everywhere `needs` asks (policy/evidence-scope.ts), attachments included. */
export function evidenceCovers(evidence: Evidence, needs: EvidenceNeeds): boolean {
  return (
    unlooked(evidence, needs).length === 0 &&
    (needs.attachedSboms !== true || evidence.sources.some((s) => s.item === 'sbom'))
  );
}

export interface EvidenceKey extends Repository {
  readonly digest: Digest;
}

export const evidenceKeyString = (k: EvidenceKey): string => `${k.registry}/${k.repository}@${k.digest}`;

interface Entry {
  readonly key: EvidenceKey;
  needs: EvidenceNeeds;
  evidence?: Evidence;
  /** The needs the last fetch that ended (without throwing) was made with. */
  fetchedWith?: EvidenceNeeds;
  fingerprint?: string;
  fetching?: Promise<void> | undefined;
  timer?: NodeJS.Timeout | undefined;
  failures: number;
  /** When the last complete fetch ended (Date.now()). */
  completeAt?: number;
  /** Someone waits for the next fetch's result (fresh()): report it even if nothing changed. */
  reportNext?: boolean;
}

export interface EvidenceStoreOptions {
  readonly client: RegistryClient;
  readonly logger: Logger;
  /** Called after a fetch that changed the evidence (or the first one). */
  readonly onChange: (key: string, evidence: Evidence) => void;
  /** Fraction of the interval used as random jitter (default 0.1). */
  readonly jitter?: number;
  /** First retry delay after a failed refresh, doubling up to the interval (default 5 s). */
  readonly retryBaseMs?: number;
  /** Whether this replica may talk to registries (only the leader does). */
  readonly active?: () => boolean;
  /** Told whether each lookup found evidence already fetched (the cache metrics). */
  readonly onLookup?: (hit: boolean) => void;
}

/** What decides whether two fetches found the same evidence. */
function fingerprint(e: Evidence): string {
  return JSON.stringify([
    e.imageSeen,
    // Sources finish in any order: compare them as a set.
    e.sources
      .map(
        (s) =>
          `${s.repository}|${s.item}|${s.outcome}|${s.reason ?? ''}|${String(s.omitted ?? 0)}|${s.invalid ?? ''}`,
      )
      .sort(),
    e.signatures.map((s) => s.manifestDigest).sort(),
    e.attestations.map((a) => a.manifestDigest).sort(),
    e.bundles.map((b) => b.manifestDigest).sort(),
    e.sboms.length,
  ]);
}

function mergeNeeds(a: EvidenceNeeds, b: EvidenceNeeds): EvidenceNeeds {
  const repos = new Map(
    [...a.extraRepositories, ...b.extraRepositories].map((r) => [`${r.registry}/${r.repository}`, r]),
  );
  return {
    attestations: a.attestations || b.attestations,
    extraRepositories: [...repos.values()],
    intervalMs: Math.min(a.intervalMs, b.intervalMs),
    attachedSboms: a.attachedSboms === true || b.attachedSboms === true,
  };
}

const sameNeeds = (a: EvidenceNeeds, b: EvidenceNeeds): boolean =>
  a.attestations === b.attestations &&
  (a.attachedSboms === true) === (b.attachedSboms === true) &&
  a.intervalMs === b.intervalMs &&
  a.extraRepositories.length === b.extraRepositories.length;

export class EvidenceStore {
  private readonly entries = new Map<string, Entry>();
  private readonly controller = new AbortController();
  private stopped = false;

  constructor(private readonly options: EvidenceStoreOptions) {}

  /**
   * The evidence for `key` if fetched, and a promise that it will be (and
   * kept fresh) with at least `needs`. Needs only ever widen while the
   * digest is tracked; `release` forgets it.
   */
  track(key: EvidenceKey, needs: EvidenceNeeds): Evidence | undefined {
    const id = evidenceKeyString(key);
    let entry = this.entries.get(id);
    if (entry === undefined) {
      entry = { key, needs, failures: 0 };
      this.entries.set(id, entry);
      this.schedule(entry, 0);
    } else {
      const merged = mergeNeeds(entry.needs, needs);
      if (!sameNeeds(merged, entry.needs)) entry.needs = merged;
      // Evidence that did not look where the needs now point (a new source.repository, attestations,
      // attachments) is fetched again now rather than at the next interval; a fetch under way is
      // followed by another one when it ends (refresh).
      if (entry.fetching === undefined && this.uncovered(entry)) this.schedule(entry, 0);
    }
    this.options.onLookup?.(entry.evidence !== undefined);
    return entry.evidence;
  }

  get(id: string): Evidence | undefined {
    return this.entries.get(id)?.evidence;
  }

  /**
   * Whether `id`'s evidence is complete and was fetched within `maxAgeMs`
   * (the check before an eviction). If not, a fetch starts now and
   * `onChange` reports its result even if nothing changed, so the caller
   * hears back either way.
   */
  fresh(id: string, maxAgeMs: number): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    if (this.recent(id, maxAgeMs) !== undefined) return true;
    entry.reportNext = true;
    if (entry.fetching === undefined) this.schedule(entry, 0);
    return false;
  }

  /**
   * `id`'s evidence if complete, fetched within `maxAgeMs` and covering
   * `needs` when given (an audit reuses it rather than fetch again).
   */
  recent(id: string, maxAgeMs: number, needs?: EvidenceNeeds): Evidence | undefined {
    const entry = this.entries.get(id);
    if (entry?.evidence?.complete !== true) return undefined;
    if (needs !== undefined && !evidenceCovers(entry.evidence, needs)) return undefined;
    return Date.now() - (entry.completeAt ?? -Infinity) <= maxAgeMs ? entry.evidence : undefined;
  }

  /** No pod uses the digest any more. */
  release(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.entries.delete(id);
  }

  /** Re-fetch everything now (e.g. after becoming leader). */
  refreshAll(): void {
    for (const entry of this.entries.values()) this.schedule(entry, 0);
  }

  size(): number {
    return this.entries.size;
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
  }

  private schedule(entry: Entry, delayMs: number): void {
    clearTimeout(entry.timer);
    if (this.stopped) return;
    entry.timer = setTimeout(() => {
      void this.refresh(entry);
    }, delayMs);
    entry.timer.unref();
  }

  /**
   * The needs widened since the last fetch and its evidence does not cover
   * them. Never true twice for the same needs: a fetch that asked for them
   * ends it, so a fetch can never loop.
   */
  private uncovered(entry: Entry): boolean {
    return (
      entry.evidence !== undefined &&
      entry.fetchedWith !== entry.needs &&
      !evidenceCovers(entry.evidence, entry.needs)
    );
  }

  private nextDelay(entry: Entry): number {
    const interval = entry.needs.intervalMs;
    if (entry.failures > 0) {
      const base = this.options.retryBaseMs ?? 5_000;
      return Math.min(interval, base * 2 ** Math.min(entry.failures - 1, 16));
    }
    const jitter = this.options.jitter ?? 0.1;
    return interval * (1 - jitter + Math.random() * 2 * jitter);
  }

  private async refresh(entry: Entry): Promise<void> {
    if (entry.fetching !== undefined) return entry.fetching;
    if (this.options.active?.() === false) {
      // A follower keeps no registry traffic; it looks again later.
      this.schedule(entry, entry.needs.intervalMs);
      return;
    }
    const run = async (): Promise<void> => {
      const needs = entry.needs;
      let ended = false;
      try {
        // Kept compact: the store holds every running digest's evidence for as long as it runs.
        const evidence = compactEvidence(
          await collectEvidence(this.options.client, {
            image: { registry: entry.key.registry, repository: entry.key.repository },
            digest: entry.key.digest,
            extraRepositories: needs.extraRepositories,
            include: {
              attestations: needs.attestations,
              attachedSboms: needs.attachedSboms === true,
            },
            ...(entry.evidence === undefined ? {} : { previous: entry.evidence }),
            now: new Date(),
            signal: this.controller.signal,
          }),
        );
        entry.failures = evidence.complete ? 0 : entry.failures + 1;
        const print = fingerprint(evidence);
        if (this.entries.get(evidenceKeyString(entry.key)) !== entry) return; // released meanwhile
        ended = true;
        entry.fetchedWith = needs;
        if (evidence.complete) entry.completeAt = Date.now();
        const report = entry.reportNext === true;
        entry.reportNext = false;
        if (print !== entry.fingerprint || entry.evidence === undefined || report) {
          entry.evidence = evidence;
          entry.fingerprint = print;
          this.options.onChange(evidenceKeyString(entry.key), evidence);
        }
      } catch (error: unknown) {
        entry.failures++;
        this.options.logger.warn('evidence refresh failed', {
          image: evidenceKeyString(entry.key),
          error: error instanceof Error ? error.message : String(error),
        });
      } finally {
        entry.fetching = undefined;
        // Needs that widened while this fetch was under way are fetched at once.
        this.schedule(entry, ended && this.uncovered(entry) ? 0 : this.nextDelay(entry));
      }
    };
    entry.fetching = run();
    return entry.fetching;
  }
}
