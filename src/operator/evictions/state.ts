/**
 * What evictions must remember across restarts (design §6), kept where a
 * restart finds it — in each ImagePolicy's status — and nowhere else:
 *
 * - `status.evictions`: the policy's evictions of the last hour, so
 *   `maxPerHour` and `perOwnerInterval` survive a restart (an eviction is
 *   recorded *before* the Eviction API is called and withdrawn if it did not
 *   happen, so a crash in between over-counts, never under-counts);
 * - `status.evictionsPaused`: a tripped circuit breaker, the figures it
 *   acted on and the generation that `sigwatch.dev/confirm-evictions` must
 *   name to lift it;
 * - `status.evictionsConfirmed`: when a confirmation last lifted it, so that
 *   what failed before then does not trip it again after a restart.
 * - in each record of a workload's pod, what its replacement was predicted
 *   from and, once a replacement failed again, the loop (loop-guard.ts):
 *   the newest looped record of each workload is kept past the hour (at most
 *   `maxLoops` per policy), so a loop stays stopped across restarts.
 *
 * The leader reads both back from the policy watch (a new leader starts
 * from what the old one wrote) and merges them with what it did itself.
 * Pure apart from the clock passed in.
 */
import type {
  BreakerConfirmation,
  BreakerReason,
  BreakerTrip,
  EvictionLoop,
  EvictionRecord,
} from '../verdicts/eviction-status.js';
import { stillPaused } from './rules.js';
import { asObject as obj, asString as str } from '../../base/json.js';
import { readLoop, readPredicted } from './loop-guard.js';

/** What the policy watch delivers besides the spec. */
export interface PersistedEvictions {
  readonly evictions: readonly EvictionRecord[];
  readonly paused?: BreakerTrip;
  readonly confirmed?: BreakerConfirmation;
  /** The `sigwatch.dev/confirm-evictions` annotation, verbatim. */
  readonly confirmation?: string;
}

export const historyWindowMs = 3_600_000;
/** Looped records kept past the window per policy; the oldest go first beyond it. */
export const maxLoops = 100;

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
const breakerReasons: readonly BreakerReason[] = ['TooManyNewViolations', 'EvictionsSwitchedOn'];
const reasonOf = (v: unknown): BreakerReason => breakerReasons.find((r) => r === v) ?? 'TooManyNewViolations';
const isTime = (v: string | undefined): v is string => v !== undefined && Number.isFinite(Date.parse(v));

/**
 * Reads the persisted state from an ImagePolicy object. Entries that do not
 * parse are dropped one by one (a hand edit cannot hide the others); a
 * breaker record that does not parse counts as tripped at generation 0 —
 * paused until confirmed, the safe reading — and a confirmation record
 * that does not parse as none (more pods count as new).
 */
export function readPersisted(raw: unknown): PersistedEvictions {
  const o = obj(raw);
  const status = obj(o?.['status']);
  const annotations = obj(obj(o?.['metadata'])?.['annotations']);
  const evictions: EvictionRecord[] = [];
  for (const e of Array.isArray(status?.['evictions']) ? status['evictions'] : []) {
    const r = obj(e);
    const time = str(r?.['time']);
    const namespace = str(r?.['namespace']);
    const pod = str(r?.['pod']);
    const owner = str(r?.['owner']);
    if (!isTime(time)) continue;
    if (namespace === undefined || pod === undefined || owner === undefined) continue;
    const predicted = readPredicted(r?.['predicted']);
    const loop = predicted === undefined ? undefined : readLoop(r?.['loop']);
    evictions.push({
      time,
      namespace,
      pod,
      owner,
      ...(predicted === undefined ? {} : { predicted }),
      ...(loop === undefined ? {} : { loop }),
    });
  }
  const p = status?.['evictionsPaused'];
  const trip = obj(p);
  const confirmationAtTrip = str(trip?.['confirmationAtTrip']);
  const threshold = int(trip?.['maxNewViolationsPercent']);
  const paused: BreakerTrip | undefined =
    p === undefined || p === null
      ? undefined
      : {
          reason: reasonOf(trip?.['reason']),
          generation: int(trip?.['generation']) ?? 0,
          since: str(trip?.['since']) ?? new Date(0).toISOString(),
          newlyNonCompliant: int(trip?.['newlyNonCompliant']) ?? 0,
          matchedPods: int(trip?.['matchedPods']) ?? 0,
          ...(threshold === undefined || threshold > 100 ? {} : { maxNewViolationsPercent: threshold }),
          ...(confirmationAtTrip === undefined ? {} : { confirmationAtTrip }),
        };
  const c = obj(status?.['evictionsConfirmed']);
  const confirmedGeneration = int(c?.['generation']);
  const confirmedTime = str(c?.['time']);
  const confirmed =
    confirmedGeneration === undefined || !isTime(confirmedTime)
      ? undefined
      : { generation: confirmedGeneration, time: confirmedTime };
  const confirmation = str(annotations?.['sigwatch.dev/confirm-evictions']);
  return {
    evictions,
    ...(paused === undefined ? {} : { paused }),
    ...(confirmed === undefined ? {} : { confirmed }),
    ...(confirmation === undefined ? {} : { confirmation }),
  };
}

/** The record without its loop mark. */
const unlooped = (r: EvictionRecord): EvictionRecord => ({
  time: r.time,
  namespace: r.namespace,
  pod: r.pod,
  owner: r.owner,
  ...(r.predicted === undefined ? {} : { predicted: r.predicted }),
});

export const recordId = (r: EvictionRecord): string => `${r.time}|${r.namespace}|${r.pod}`;

/** Per-policy eviction history and breaker state, as the leader keeps it. */
export class EvictionState {
  private readonly history = new Map<string, EvictionRecord[]>();
  /** How long each policy's records are kept: an hour, or its perOwnerInterval if longer. */
  private readonly retention = new Map<string, number>();
  /** Records withdrawn (the eviction did not happen) → when: a late watch echo must not bring them back. */
  private readonly withdrawn = new Map<string, number>();
  /** Looped records released (a condition changed, the template is gone) → when: an echo must not restore the loop. */
  private readonly released = new Map<string, number>();
  private readonly trips = new Map<string, BreakerTrip>();
  /** The `sigwatch.dev/confirm-evictions` annotation's value, per policy. */
  private readonly confirmations = new Map<string, string>();
  /** When a confirmation last lifted each policy's breaker. */
  private readonly lifted = new Map<string, BreakerConfirmation>();

  /**
   * Merges what the policy object says (ours, or a former leader's) into memory.
   * @returns whether the confirmation annotation changed
   */
  observe(policy: string, persisted: PersistedEvictions, now: Date): boolean {
    const known = new Map((this.history.get(policy) ?? []).map((r) => [recordId(r), r]));
    for (const r of persisted.evictions) {
      const id = recordId(r);
      if (this.withdrawn.has(id)) continue;
      // A loop this leader marked may not be written yet; one it released must not come back with an echo.
      const loop = this.released.has(id) ? undefined : (r.loop ?? known.get(id)?.loop);
      known.set(id, loop === undefined ? unlooped(r) : { ...r, loop });
    }
    this.history.set(policy, this.prune(policy, [...known.values()], now));
    // A trip is only ever written by the leader; one it does not know yet (a restart) is adopted.
    if (persisted.paused !== undefined && !this.trips.has(policy)) this.trips.set(policy, persisted.paused);
    // The later of ours and the stored one: a former leader's, or our own write echoed.
    const lifted = this.lifted.get(policy);
    if (
      persisted.confirmed !== undefined &&
      (lifted === undefined || Date.parse(persisted.confirmed.time) > Date.parse(lifted.time))
    )
      this.lifted.set(policy, persisted.confirmed);
    const before = this.confirmations.get(policy);
    if (persisted.confirmation === undefined) this.confirmations.delete(policy);
    else this.confirmations.set(policy, persisted.confirmation);
    return before !== persisted.confirmation;
  }

  /** Keeps the policy's records at least `ms` (its perOwnerInterval), never less than an hour. */
  keepFor(policy: string, ms: number): void {
    this.retention.set(policy, Math.max(historyWindowMs, ms));
  }

  forget(policy: string): void {
    this.history.delete(policy);
    this.retention.delete(policy);
    this.trips.delete(policy);
    this.confirmations.delete(policy);
    this.lifted.delete(policy);
  }

  record(policy: string, r: EvictionRecord): void {
    this.history.set(policy, [...(this.history.get(policy) ?? []), r]);
  }

  /** Takes back a record made before an eviction that did not happen. */
  withdraw(policy: string, r: EvictionRecord, now: Date): void {
    const id = recordId(r);
    this.withdrawn.set(id, now.getTime());
    for (const [k, at] of this.withdrawn) if (now.getTime() - at > historyWindowMs) this.withdrawn.delete(k);
    this.history.set(
      policy,
      (this.history.get(policy) ?? []).filter((x) => recordId(x) !== id),
    );
  }

  /** The policy's kept records, oldest first (what status.evictions holds). */
  records(policy: string, now: Date): EvictionRecord[] {
    const kept = this.prune(policy, this.history.get(policy) ?? [], now);
    this.history.set(policy, kept);
    return kept;
  }

  /** The policy's evictions in the last hour: what maxPerHour counts. */
  lastHour(policy: string, now: Date): EvictionRecord[] {
    const from = now.getTime() - historyWindowMs;
    return this.records(policy, now).filter((r) => Date.parse(r.time) > from);
  }

  /** When the hour's budget frees its next slot: the oldest record of the hour plus an hour. */
  budgetFreesAt(policy: string, now: Date): Date | undefined {
    const oldest = this.lastHour(policy, now)[0];
    return oldest === undefined ? undefined : new Date(Date.parse(oldest.time) + historyWindowMs);
  }

  /** The last eviction of `namespace`'s workload `owner` under any policy. */
  ownerLastEvictedAt(namespace: string, owner: string): Date | undefined {
    let last: number | undefined;
    for (const records of this.history.values()) {
      for (const r of records) {
        if (r.namespace !== namespace || r.owner !== owner) continue;
        const t = Date.parse(r.time);
        if (last === undefined || t > last) last = t;
      }
    }
    return last === undefined ? undefined : new Date(last);
  }

  /** The newest record of `namespace`'s workload `owner` under `policy`. */
  lastEviction(policy: string, namespace: string, owner: string): EvictionRecord | undefined {
    return (this.history.get(policy) ?? []).findLast((r) => r.namespace === namespace && r.owner === owner);
  }

  /** The newest record under `policy` of an eviction whose replacement `controller` (`Kind/name`) creates. */
  lastFromController(policy: string, namespace: string, controller: string): EvictionRecord | undefined {
    return (this.history.get(policy) ?? []).findLast(
      (r) => r.namespace === namespace && r.predicted?.controller === controller,
    );
  }

  /** Marks `record` as looped, unless it was released (a condition changed since). @returns whether it was not already */
  markLoop(policy: string, record: EvictionRecord, loop: EvictionLoop): boolean {
    if (this.released.has(recordId(record))) return false;
    return this.replace(policy, record, (r) => (r.loop === undefined ? { ...r, loop } : undefined));
  }

  /** Takes the loop mark off `record`. @returns whether it had one */
  releaseLoop(policy: string, record: EvictionRecord, now: Date): boolean {
    const id = recordId(record);
    this.released.set(id, now.getTime());
    for (const [k, at] of this.released) if (now.getTime() - at > historyWindowMs) this.released.delete(k);
    return this.replace(policy, record, (r) => (r.loop === undefined ? undefined : unlooped(r)));
  }

  /** The policy's workloads whose newest record is looped: evictions of them are stopped. */
  loops(policy: string, now: Date): EvictionRecord[] {
    const newest = new Map<string, EvictionRecord>();
    for (const r of this.records(policy, now)) newest.set(`${r.namespace}/${r.owner}`, r);
    return [...newest.values()].filter((r) => r.loop !== undefined);
  }

  /** Trips the breaker; the confirmation standing now answered an earlier trip, not this one. */
  trip(policy: string, trip: Omit<BreakerTrip, 'confirmationAtTrip'>): BreakerTrip {
    const standing = this.confirmations.get(policy);
    const full: BreakerTrip = {
      ...trip,
      ...(standing === undefined ? {} : { confirmationAtTrip: standing }),
    };
    this.trips.set(policy, full);
    return full;
  }

  /** The trip that still holds (not yet confirmed), if any. */
  paused(policy: string): BreakerTrip | undefined {
    const trip = this.trips.get(policy);
    return trip !== undefined && stillPaused(trip, this.confirmations.get(policy)) ? trip : undefined;
  }

  /**
   * Clears a trip the annotation now confirms and notes when (breakers.ts,
   * once per settle: `paused` alone never clears, so no confirmation goes
   * unnoticed).
   * @returns the trip it lifted, if any
   */
  lift(policy: string, now: Date): BreakerTrip | undefined {
    const trip = this.trips.get(policy);
    if (trip === undefined || stillPaused(trip, this.confirmations.get(policy))) return undefined;
    this.trips.delete(policy);
    this.lifted.set(policy, { generation: trip.generation, time: now.toISOString() });
    return trip;
  }

  /** The confirmation that last lifted the policy's breaker (what status.evictionsConfirmed holds). */
  confirmed(policy: string): BreakerConfirmation | undefined {
    return this.lifted.get(policy);
  }

  private replace(
    policy: string,
    record: EvictionRecord,
    change: (r: EvictionRecord) => EvictionRecord | undefined,
  ): boolean {
    const id = recordId(record);
    let changed = false;
    const records = (this.history.get(policy) ?? []).map((r) => {
      if (recordId(r) !== id) return r;
      const next = change(r);
      if (next === undefined) return r;
      changed = true;
      return next;
    });
    this.history.set(policy, records);
    return changed;
  }

  /** The window's records, and past it the newest looped record of each workload (at most maxLoops), oldest first. */
  private prune(policy: string, records: readonly EvictionRecord[], now: Date): EvictionRecord[] {
    const from = now.getTime() - (this.retention.get(policy) ?? historyWindowMs);
    const sorted = [...records].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    const newest = new Map<string, EvictionRecord>();
    for (const r of sorted) newest.set(`${r.namespace}/${r.owner}`, r);
    const stopped = new Set(
      [...newest.values()].filter((r) => r.loop !== undefined && Date.parse(r.time) <= from).slice(-maxLoops),
    );
    return sorted.filter((r) => Date.parse(r.time) > from || stopped.has(r));
  }
}
