/**
 * What an ImagePolicy's status says about its evictions: the records of the
 * last hour, a tripped circuit breaker and the confirmation that last lifted one. The status writer shows them and
 * the evictions reconciler persists and reads them back (evictions/state.ts),
 * so the shape lives here, below both.
 */
export interface EvictionRecord {
  /** RFC 3339. */
  readonly time: string;
  readonly namespace: string;
  readonly pod: string;
  /** `Kind/name` of the workload (the Deployment for a ReplicaSet's pod); `Pod/<name>` for a bare pod. */
  readonly owner: string;
}

/**
 * Why a breaker tripped (the `EvictionsPaused` condition's reason): a change
 * turned too many pods NonCompliant, or evictions were switched on (Audit →
 * Enforce, `evict.enabled`) while too many pods already were.
 */
export type BreakerReason = 'TooManyNewViolations' | 'EvictionsSwitchedOn';

export interface BreakerTrip {
  readonly reason: BreakerReason;
  /** The policy generation current when it tripped: the confirmation must name it or a later one. */
  readonly generation: number;
  readonly since: string;
  readonly newlyNonCompliant: number;
  readonly matchedPods: number;
  /** `maxNewViolationsPercent` when it tripped; absent in a trip an older version wrote. */
  readonly maxNewViolationsPercent?: number;
  /** The confirmation annotation's value when it tripped: it confirmed an earlier trip, not this one. */
  readonly confirmationAtTrip?: string;
}

/** The confirmation that last lifted a breaker: what failed before `time` is no new violation. */
export interface BreakerConfirmation {
  /** The generation of the trip it lifted. */
  readonly generation: number;
  /** RFC 3339, with milliseconds. */
  readonly time: string;
}
