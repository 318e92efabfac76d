/**
 * Which pods depend on which tracked digests (their own, and related or
 * replacement digests judged for them): new evidence re-judges exactly
 * those pods, and a digest no pod depends on any more is released from the
 * evidence store.
 */
export class DigestUsers {
  private readonly byPod = new Map<string, ReadonlySet<string>>();
  private readonly byDigest = new Map<string, Set<string>>();

  /** Sets the digests `pod` depends on; answers those no pod depends on any more. */
  set(pod: string, ids: ReadonlySet<string>): string[] {
    const released: string[] = [];
    for (const id of this.byPod.get(pod) ?? []) {
      if (ids.has(id)) continue;
      const users = this.byDigest.get(id);
      users?.delete(pod);
      if (users?.size === 0) {
        this.byDigest.delete(id);
        released.push(id);
      }
    }
    for (const id of ids) {
      let users = this.byDigest.get(id);
      if (users === undefined) {
        users = new Set();
        this.byDigest.set(id, users);
      }
      users.add(pod);
    }
    if (ids.size === 0) this.byPod.delete(pod);
    else this.byPod.set(pod, ids);
    return released;
  }

  digestsOf(pod: string): ReadonlySet<string> {
    return this.byPod.get(pod) ?? new Set();
  }

  podsOf(id: string): Iterable<string> {
    return this.byDigest.get(id) ?? [];
  }
}
