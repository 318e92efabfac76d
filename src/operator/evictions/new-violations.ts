/**
 * Input to the circuit breaker (design §6): per policy, which matched pods
 * are NonCompliant and since when they turned so.
 *
 * Design §6 names the changes that may trip it — one policy generation, one
 * trust-material change, one time-driven transition. Each reaches the
 * controller as a burst of pods turning NonCompliant within moments of each
 * other, and a pod only becomes evictable `noncompliantFor` after it
 * turned; so the breaker counts the pods that turned within one
 * `noncompliantFor` (at least a minute) of now: exactly the pods that could
 * otherwise be evicted together. A pod first seen NonCompliant with a
 * `noncompliant-since` annotation (from before a restart or a change of
 * leader) turned then, not now: one that turned long ago is not new, one
 * that turned in the burst a crashed leader was handling still counts.
 */
export const minimumWindowMs = 60_000;

export class NewViolations {
  /** policy → pod key → when it turned NonCompliant (ms; 0 after a confirmation settled it). */
  private readonly noncompliant = new Map<string, Map<string, number>>();
  /** policy → pod keys the policy judges (selected, some container's image matched). */
  private readonly matched = new Map<string, Set<string>>();

  /**
   * Notes a pod's state under each policy that judges it (`noncompliant`,
   * and `sinceMs`: when its annotation says it turned, if it has one);
   * policies absent from `states` no longer judge it.
   * @returns the policies under which it has just turned NonCompliant
   */
  note(
    pod: string,
    states: ReadonlyMap<string, { readonly noncompliant: boolean; readonly sinceMs?: number }>,
    nowMs: number,
  ): string[] {
    for (const [policy, pods] of this.matched) {
      if (states.has(policy)) continue;
      pods.delete(pod);
      this.noncompliant.get(policy)?.delete(pod);
    }
    const turned: string[] = [];
    for (const [policy, { noncompliant, sinceMs }] of states) {
      const matched = this.setOf(this.matched, policy, () => new Set<string>());
      const firstSight = !matched.has(pod);
      matched.add(pod);
      const since = this.setOf(this.noncompliant, policy, () => new Map<string, number>());
      if (!noncompliant) since.delete(pod);
      else if (!since.has(pod)) {
        since.set(pod, firstSight && sinceMs !== undefined ? Math.min(sinceMs, nowMs) : nowMs);
        turned.push(policy);
      }
    }
    return turned;
  }

  forgetPod(pod: string): void {
    for (const s of this.matched.values()) s.delete(pod);
    for (const s of this.noncompliant.values()) s.delete(pod);
  }

  forgetPolicy(policy: string): void {
    this.matched.delete(policy);
    this.noncompliant.delete(policy);
  }

  /** The pods that turned NonCompliant within `windowMs` of now, and the pods the policy judges. */
  count(policy: string, windowMs: number, nowMs: number): { newly: number; matched: number } {
    const from = nowMs - Math.max(windowMs, minimumWindowMs);
    let newly = 0;
    for (const at of this.noncompliant.get(policy)?.values() ?? []) if (at > 0 && at >= from) newly++;
    return { newly, matched: this.matched.get(policy)?.size ?? 0 };
  }

  /** After a human confirmed evictions: the pods counted so far no longer count as new. */
  settle(policy: string): void {
    const states = this.noncompliant.get(policy);
    if (states !== undefined) for (const pod of states.keys()) states.set(pod, 0);
  }

  private setOf<T>(m: Map<string, T>, key: string, make: () => T): T {
    let v = m.get(key);
    if (v === undefined) {
      v = make();
      m.set(key, v);
    }
    return v;
  }
}
