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
  /** What the replacement was predicted from, for the loop guard; absent for a bare pod. */
  readonly predicted?: PredictedReplacement;
  /** Set once a replacement ran a failing image again: the workload is not evicted again for these reasons. */
  readonly loop?: EvictionLoop;
}

/** The conditions an eviction was decided under: a second one under the same conditions would loop. */
export interface PredictedReplacement {
  /** `Kind/name` of the object whose template creates the replacement (a Deployment's pod: its ReplicaSet). */
  readonly controller: string;
  /** That object's `metadata.generation`: an edit of its template changes it. */
  readonly generation: number;
  /** The definite reasons the evicted pod failed with. */
  readonly reasons: readonly string[];
  /** Per failing container, what its replacement was predicted from. */
  readonly images: readonly PredictedImageRecord[];
}

export interface PredictedImageRecord {
  readonly container: string;
  /** The template's image. */
  readonly image: string;
  /** The digest the tag named in the registry, if the registry was asked. */
  readonly tagTarget?: string;
  /** What the node held under the tag: a digest, `absent` or `unlisted` (a full list without it). */
  readonly nodeImage?: string;
}

/** The replacement that failed again. */
export interface EvictionLoop {
  /** RFC 3339: when it was seen failing. */
  readonly time: string;
  readonly pod: string;
  readonly digest: string;
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
