/**
 * Settles the circuit breakers (design §6) once per pass, before any pod is
 * considered: trips a policy's breaker when too many of its matched pods
 * turned NonCompliant at once, and notices when a human's confirmation
 * lifted it (state.ts reads the annotation). Apart from the per-pod
 * decision because it judges a policy's whole burst, never one pod; the
 * trip itself lives in the policy status (state.ts), the counts of the
 * burst in memory (new-violations.ts).
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { BreakerTrip } from '../verdicts/eviction-status.js';
import { NewViolations } from './new-violations.js';
import type { EvictionContext } from './options.js';
import { breakerTrips } from './rules.js';
import { durationMs } from './standing.js';

/** The `EvictionsPaused` condition of a policy whose breaker is set up (ready, evicting). */
export function pausedCondition(
  policy: ReadyPolicy,
  trip: BreakerTrip | undefined,
): { status: 'True' | 'False'; reason: string; message: string } {
  return trip === undefined
    ? { status: 'False' as const, reason: 'NotPaused', message: '' }
    : {
        status: 'True' as const,
        reason: 'TooManyNewViolations',
        message: `${String(trip.newlyNonCompliant)} of ${String(trip.matchedPods)} matched pods turned NonCompliant at once (more than ${String(policy.spec.actions.evict.maxNewViolationsPercent)}%); evictions are paused until the annotation sigwatch.dev/confirm-evictions names generation ${String(trip.generation)}${trip.confirmationAtTrip === undefined ? '' : ` with a value other than the one it had when this tripped (e.g. ${String(trip.generation)}/again)`}`,
      };
}

export class Breakers {
  private violations = new NewViolations();
  /** Whether each policy's breaker was set at the last settle: a set one found clear was confirmed. */
  private readonly paused = new Map<string, boolean>();

  constructor(private readonly context: Pick<EvictionContext, 'options' | 'state'>) {}

  /** The pod's state under the evicting policies that judge it; see NewViolations.note. */
  note(key: string, states: Parameters<NewViolations['note']>[1], nowMs: number): void {
    this.violations.note(key, states, nowMs);
  }

  forgetPolicy(name: string): void {
    this.violations.forgetPolicy(name);
    this.paused.delete(name);
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
    const wasPaused = this.paused.get(p.name) ?? false;
    let trip = state.paused(p.name);
    if (trip === undefined && wasPaused) {
      // Confirmed by a human: what tripped it no longer counts as new.
      this.violations.settle(p.name);
      options.logger.info('evictions confirmed; circuit breaker lifted', { policy: p.name });
      if (options.mayWrite()) await options.persist(p.name);
    }
    // Only the leader trips breakers: a follower's verdicts rest on evidence it no longer refreshes.
    if (trip === undefined && options.mayWrite()) {
      const now = options.now();
      const { newly, matched } = this.violations.count(
        p.name,
        durationMs(evict.noncompliantFor, 600_000),
        now.getTime(),
      );
      if (breakerTrips(newly, matched, evict.maxNewViolationsPercent)) {
        trip = state.trip(p.name, {
          generation: p.generation,
          since: now.toISOString(),
          newlyNonCompliant: newly,
          matchedPods: matched,
        });
        options.logger.warn('circuit breaker tripped: evictions paused', {
          policy: p.name,
          newly,
          matched,
        });
        if (options.mayWrite()) await options.persist(p.name);
      }
    }
    const paused = trip !== undefined;
    this.paused.set(p.name, paused);
    options.metrics?.evictionsPaused.set({ policy: p.name }, paused ? 1 : 0);
  }
}
