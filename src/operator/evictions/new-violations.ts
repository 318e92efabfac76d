/**
 * Input to the circuit breaker (design §6): per policy, the matched pods,
 * the NonCompliant ones and which of those are *new* violations.
 *
 * Design §6 names the changes that may trip it — one policy generation, one
 * trust-material change, one time-driven transition. Each makes the policy
 * fail (workload, digest) pairs it passed before, and every pod running
 * such a pair turns NonCompliant within moments of the others. So the
 * memory is kept per (policy, namespace, workload, digest) — the workload
 * as owners.ts `workloadOf` names it, a Deployment for its ReplicaSets'
 * pods — with the time the pair was first seen failing, and a pod counts
 * as new when it turned NonCompliant within the window (one
 * `noncompliantFor`, at least a minute: the pods that could otherwise be
 * evicted together) *and* so did one of its failing pairs. A pod whose
 * pairs failed before is no new violation: the replacement of an evicted
 * pod, a scale-up, a rollout replica running the same failing digest.
 *
 * A pair stops counting, besides leaving the window, once the breaker has
 * let it through: a human's confirmation lifted the breaker after it
 * turned (`confirmedAtMs`, from `status.evictionsConfirmed`), or Sigwatch
 * evicted a pod of its workload after it turned (`evictedAtMs`, from
 * `status.evictions`) — which matters when `noncompliantFor` is shorter
 * than the minute's window. Both come from the policy status, so a new
 * leader sees them too.
 *
 * A restarted leader meets every pod for the first time: a pod first seen
 * NonCompliant with a `noncompliant-since` annotation turned then, and so
 * did its pairs (the earliest such pod dates a pair). One that turned long
 * ago is not new, one that turned in the burst a crashed leader was
 * handling still counts.
 *
 * Pairs outlive their pods (a replacement comes after the evicted pod is
 * gone). A pair is forgotten when a pod of it is judged to pass the policy
 * (a later failure is news again: a loosened and re-tightened rule, a
 * rotated key), with its policy, or when the memory is full: at `maxPairs`
 * the least recently seen goes first; a pod still failing it puts it back,
 * dated by the pod's own turn.
 */
export const minimumWindowMs = 60_000;

/** Bound of the pair memory, over all policies: some 200 bytes an entry, about 2 MB when full. */
export const maxPairs = 10_000;

/** A pod under one policy, from its actionable containers (standing.ts `breakerStanding`). */
export interface PodStanding {
  /** Digests the policy definitely fails (a fresh or a stale verdict). */
  readonly failing: readonly string[];
  /** Digests it definitely passes (Compliant, Exempt). */
  readonly passing: readonly string[];
}

/** What the memory keys a pod's pairs by, and its annotation's date. */
export interface PodFacts {
  readonly namespace: string;
  /** `Kind/name`: owners.ts `workloadOf`. */
  readonly workload: string;
  /** When its `noncompliant-since` annotation says it turned (ms), if it has one. */
  readonly sinceMs?: number;
}

export interface CountInput {
  /** One `noncompliantFor` in ms; at least `minimumWindowMs` is used. */
  readonly windowMs: number;
  readonly nowMs: number;
  /** When a confirmation last lifted the policy's breaker (ms): pairs failing since before then are settled. */
  readonly confirmedAtMs?: number;
  /** When Sigwatch last evicted a pod of the workload (ms), if it did within the kept history. */
  readonly evictedAtMs: (namespace: string, workload: string) => number | undefined;
}

interface Pair {
  readonly namespace: string;
  readonly workload: string;
  /** When the pair was first seen failing (ms). */
  readonly since: number;
}

interface Turned {
  /** When the pod turned NonCompliant (ms). */
  readonly at: number;
  /** Its failing pairs' keys. */
  readonly pairs: readonly string[];
}

export class NewViolations {
  /** Pair key → pair, least recently seen first. */
  private readonly pairs = new Map<string, Pair>();
  /** policy → NonCompliant pod → its turn. */
  private readonly noncompliant = new Map<string, Map<string, Turned>>();
  /** policy → pod keys the policy judges (selected, some container's image matched). */
  private readonly matched = new Map<string, Set<string>>();

  constructor(private readonly capacity = maxPairs) {}

  /**
   * Notes a pod's standing under each policy that judges it; policies
   * absent from `states` no longer judge it.
   */
  note(pod: string, facts: PodFacts, states: ReadonlyMap<string, PodStanding>, nowMs: number): void {
    for (const [policy, pods] of this.matched) {
      if (states.has(policy)) continue;
      pods.delete(pod);
      this.noncompliant.get(policy)?.delete(pod);
    }
    for (const [policy, { failing, passing }] of states) {
      const matched = this.entry(this.matched, policy, () => new Set<string>());
      const firstSight = !matched.has(pod);
      matched.add(pod);
      const turned = this.entry(this.noncompliant, policy, () => new Map<string, Turned>());
      for (const digest of passing) this.pairs.delete(pairKey(policy, facts, digest));
      if (failing.length === 0) {
        turned.delete(pod);
        continue;
      }
      const before = turned.get(pod);
      const at =
        before?.at ?? (firstSight && facts.sinceMs !== undefined ? Math.min(facts.sinceMs, nowMs) : nowMs);
      const keys = failing.map((digest) => pairKey(policy, facts, digest));
      for (const key of keys) {
        // A pod met for the first time dates its pairs by its own turn (its annotation), as does one
        // whose pair the full memory dropped; a digest the pod fails only now makes the pair new now.
        const since = firstSight || before?.pairs.includes(key) === true ? at : nowMs;
        const known = this.pairs.get(key);
        this.pairs.delete(key); // re-inserted last: the most recently seen
        this.pairs.set(key, {
          namespace: facts.namespace,
          workload: facts.workload,
          since: known === undefined ? since : Math.min(known.since, since),
        });
      }
      turned.set(pod, { at, pairs: keys });
    }
    for (const key of this.pairs.keys()) {
      if (this.pairs.size <= this.capacity) break;
      this.pairs.delete(key);
    }
  }

  /** A pod that is gone: its pairs stay, for its replacement. */
  forgetPod(pod: string): void {
    for (const s of this.matched.values()) s.delete(pod);
    for (const s of this.noncompliant.values()) s.delete(pod);
  }

  forgetPolicy(policy: string): void {
    this.matched.delete(policy);
    this.noncompliant.delete(policy);
    const prefix = `${policy}\u0000`;
    for (const key of this.pairs.keys()) if (key.startsWith(prefix)) this.pairs.delete(key);
  }

  /** The new violations (see the module comment) and the pods the policy judges. */
  count(policy: string, input: CountInput): { newly: number; matched: number } {
    const from = input.nowMs - Math.max(input.windowMs, minimumWindowMs);
    const memo = new Map<string, boolean>();
    const fresh = (key: string): boolean => {
      let answer = memo.get(key);
      if (answer === undefined) {
        const pair = this.pairs.get(key);
        answer =
          pair !== undefined &&
          pair.since >= from &&
          (input.confirmedAtMs === undefined || pair.since > input.confirmedAtMs) &&
          (input.evictedAtMs(pair.namespace, pair.workload) ?? -Infinity) < pair.since;
        memo.set(key, answer);
      }
      return answer;
    };
    let newly = 0;
    for (const { at, pairs } of this.noncompliant.get(policy)?.values() ?? [])
      if (at >= from && pairs.some(fresh)) newly++;
    return { newly, matched: this.matched.get(policy)?.size ?? 0 };
  }

  /** How many pairs are remembered, over all policies (tests: the bound). */
  get pairCount(): number {
    return this.pairs.size;
  }

  private entry<T>(m: Map<string, T>, key: string, make: () => T): T {
    let v = m.get(key);
    if (v === undefined) {
      v = make();
      m.set(key, v);
    }
    return v;
  }
}

// NUL never occurs in a Kubernetes name nor in a digest: the parts cannot run into each other.
const pairKey = (policy: string, facts: PodFacts, digest: string): string =>
  `${policy}\u0000${facts.namespace}\u0000${facts.workload}\u0000${digest}`;
