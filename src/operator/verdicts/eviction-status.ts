/**
 * What an ImagePolicy's status says about its evictions: the records of the
 * last hour and a tripped circuit breaker. The status writer shows them and
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

export interface BreakerTrip {
  /** The policy generation current when it tripped: the confirmation must name it or a later one. */
  readonly generation: number;
  readonly since: string;
  readonly newlyNonCompliant: number;
  readonly matchedPods: number;
  /** The confirmation annotation's value when it tripped: it confirmed an earlier trip, not this one. */
  readonly confirmationAtTrip?: string;
}
