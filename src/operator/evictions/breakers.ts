/**
 * Settles the circuit breakers (design §6) once per pass, before any pod is
 * considered: trips a policy's breaker when too many of its matched pods
 * are new violations (new-violations.ts), and notices when a human's
 * confirmation lifted it (state.ts reads the annotation). Apart from the
 * per-pod decision because it judges a policy's whole burst, never one pod;
 * the trip and the last confirmation live in the policy status (state.ts),
 * the counts of the burst in memory (new-violations.ts).
 *
 * Switching evictions on (Audit → Enforce, or `evict.enabled`) makes every
 * pod the policy already fails evictable at once, and the breaker meets
 * them all at once: it may trip then, once, and says so — how many pods
 * would be evicted — rather than that they turned NonCompliant. After the
 * confirmation, those pods' workloads and digests are settled: their
 * replacements, scale-ups and rollouts do not trip it again.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { BreakerTrip } from '../verdicts/eviction-status.js';
import { minimumWindowMs, NewViolations, type PodFacts, type PodStanding } from './new-violations.js';
import type { EvictionsOptions } from './options.js';
import type { EvictionState } from './state.js';
import { breakerTrips, confirmEvictionsAnnotation } from './rules.js';
import { durationMs } from './standing.js';

const pods = (n: number): string => (n === 1 ? '1 pod' : `${String(n)} pods`);

/**
 * The `EvictionsPaused` condition of a policy whose breaker is set up
 * (ready, evicting). Only the trip's own figures: the counts and the
 * threshold it acted on, never the spec's current threshold.
 */
export function pausedCondition(trip: BreakerTrip | undefined): {
  status: 'True' | 'False';
  reason: string;
  message: string;
} {
  if (trip === undefined) return { status: 'False', reason: 'NotPaused', message: '' };
  const n = trip.newlyNonCompliant;
  const m = trip.matchedPods;
  const threshold =
    trip.maxNewViolationsPercent === undefined ? '' : ` (more than ${String(trip.maxNewViolationsPercent)}%)`;
  const g = String(trip.generation);
  const until = `evictions are paused until the annotation ${confirmEvictionsAnnotation} names generation ${g}${trip.confirmationAtTrip === undefined ? '' : ` with a value other than the one it had when this tripped (e.g. ${g}/again)`}`;
  const message =
    trip.reason === 'EvictionsSwitchedOn'
      ? `Evictions were switched on while ${String(n)} of ${String(m)} matched pods are NonCompliant${threshold}: up to ${pods(n)} would be evicted; ${until}`
      : `${String(n)} of ${String(m)} matched pods turned NonCompliant at once${threshold}; ${until}`;
  return { status: 'True', reason: trip.reason, message };
}

export class Breakers {
  private violations = new NewViolations();
  /** Ready policies seen not evicting (Audit, evict disabled) since they last were. */
  private readonly notEvicting = new Set<string>();
  /** When this replica saw each policy start evicting after it had seen it not evicting (ms). */
  private readonly switchedOnAt = new Map<string, number>();

  constructor(
    private readonly context: {
      readonly options: Pick<EvictionsOptions, 'logger' | 'now' | 'mayWrite' | 'persist' | 'metrics'>;
      readonly state: EvictionState;
    },
  ) {}

  /** The pod's standing under the evicting policies that judge it; see NewViolations.note. */
  note(key: string, facts: PodFacts, states: ReadonlyMap<string, PodStanding>, nowMs: number): void {
    this.violations.note(key, facts, states, nowMs);
  }

  /** A ready policy that does not evict (Audit, or evict disabled): switching it on will be noticed. */
  seenNotEvicting(name: string): void {
    this.notEvicting.add(name);
    this.switchedOnAt.delete(name);
  }

  forgetPolicy(name: string): void {
    this.violations.forgetPolicy(name);
    this.notEvicting.delete(name);
    this.switchedOnAt.delete(name);
  }

  forgetPod(key: string): void {
    this.violations.forgetPod(key);
  }

  /** Forgets the counts of a burst (after gaining the lease: the status holds the trips that matter). */
  resetCounts(): void {
    this.violations = new NewViolations();
  }

  /** Trips or lifts the policy's breaker; persists the change (leader only). */
  async check(p: ReadyPolicy): Promise<void> {
    const { options, state } = this.context;
    const evict = p.spec.actions.evict;
    const now = options.now();
    const nowMs = now.getTime();
    if (this.notEvicting.delete(p.name)) this.switchedOnAt.set(p.name, nowMs);
    const lifted = state.lift(p.name, now);
    if (lifted !== undefined) {
      // Confirmed by a human: what failed until now no longer counts as new (state.confirmed).
      options.logger.info('evictions confirmed; circuit breaker lifted', {
        policy: p.name,
        generation: lifted.generation,
      });
      if (options.mayWrite()) await options.persist(p.name);
    }
    let trip = state.paused(p.name);
    // Only the leader trips breakers: a follower's verdicts rest on evidence it no longer refreshes.
    if (trip === undefined && options.mayWrite()) {
      const windowMs = durationMs(evict.noncompliantFor, 600_000);
      const confirmed = state.confirmed(p.name);
      const { newly, matched } = this.violations.count(p.name, {
        windowMs,
        nowMs,
        ...(confirmed === undefined ? {} : { confirmedAtMs: Date.parse(confirmed.time) }),
        evictedAtMs: (namespace, workload) => state.ownerLastEvictedAt(namespace, workload)?.getTime(),
      });
      if (breakerTrips(newly, matched, evict.maxNewViolationsPercent)) {
        const switchedOn = this.switchedOnAt.get(p.name);
        trip = state.trip(p.name, {
          reason:
            switchedOn !== undefined && nowMs - switchedOn <= Math.max(windowMs, minimumWindowMs)
              ? 'EvictionsSwitchedOn'
              : 'TooManyNewViolations',
          generation: p.generation,
          since: now.toISOString(),
          newlyNonCompliant: newly,
          matchedPods: matched,
          maxNewViolationsPercent: evict.maxNewViolationsPercent,
        });
        options.logger.warn('circuit breaker tripped: evictions paused', {
          policy: p.name,
          reason: trip.reason,
          newly,
          matched,
        });
        await options.persist(p.name);
      }
    }
    options.metrics?.evictionsPaused.set({ policy: p.name }, trip === undefined ? 0 : 1);
  }
}
