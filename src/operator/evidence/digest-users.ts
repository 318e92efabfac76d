/**
 * Which pods depend on which tracked digests (their own, and related or
 * replacement digests judged for them): new evidence re-judges exactly
 * those pods, and a digest no pod depends on any more is released from the
 * evidence store.
 *
 * Held for every pod: a pod's digests are kept as the id itself when there
 * is one (nearly every pod runs one image) and as an array otherwise, not as
 * a Set per pod, which costs several times the strings it holds.
 */
type Ids = string | readonly string[];

const idsOf = (ids: Ids | undefined): readonly string[] =>
  ids === undefined ? [] : typeof ids === 'string' ? [ids] : ids;

export class DigestUsers {
  private readonly byPod = new Map<string, Ids>();
  /** `id` is the string every pod's entry and result share (`canonical`). */
  private readonly byDigest = new Map<string, { readonly id: string; readonly pods: Set<string> }>();

  /** Sets the digests `pod` depends on; answers those no pod depends on any more. */
  set(pod: string, ids: ReadonlySet<string>): string[] {
    const released: string[] = [];
    for (const id of idsOf(this.byPod.get(pod))) {
      if (ids.has(id)) continue;
      const users = this.byDigest.get(id)?.pods;
      users?.delete(pod);
      if (users?.size === 0) {
        this.byDigest.delete(id);
        released.push(id);
      }
    }
    const kept: string[] = [];
    for (const id of ids) {
      let users = this.byDigest.get(id);
      if (users === undefined) {
        users = { id, pods: new Set() };
        this.byDigest.set(id, users);
      }
      users.pods.add(pod);
      kept.push(users.id);
    }
    if (kept.length === 0) this.byPod.delete(pod);
    else this.byPod.set(pod, kept.length === 1 ? (kept[0] ?? '') : kept);
    return released;
  }

  digestsOf(pod: string): ReadonlySet<string> {
    return new Set(idsOf(this.byPod.get(pod)));
  }

  podsOf(id: string): Iterable<string> {
    return this.byDigest.get(id)?.pods ?? [];
  }

  /**
   * The copy of `id` already held for the digest's users, if any: every pod
   * judging a digest builds the id anew, and 10,000 pods' results would
   * otherwise hold 10,000 copies of a few hundred strings.
   */
  canonical(id: string): string {
    return this.byDigest.get(id)?.id ?? id;
  }
}
