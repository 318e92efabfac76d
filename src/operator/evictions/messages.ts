/**
 * The words of eviction Events and conditions, in one place: the README's
 * Evictions section quotes them, and a test compares the two. Each cause of
 * `EvictionWouldNotHelp` says why a replacement would fail again and what
 * the workload's owner can change.
 */

/** Why a container's replacement would run a failing image again (replacement.ts), remedy included. */
export const wouldFailAgain = {
  pinnedSame: (digest: string): string =>
    `the template pins ${digest}, the failing image itself; pin a Compliant digest`,
  pinnedIndex: (index: string): string =>
    `the template pins the index ${index}, which lists the failing image; pin a Compliant digest`,
  tagSame: (repoTag: string, digest: string): string =>
    `${repoTag} still names ${digest} in the registry, the failing image; push a Compliant image to the tag or pin a Compliant digest`,
  tagFails: (repoTag: string, digest: string): string =>
    `${repoTag} now names ${digest} in the registry, which fails the policy too; push a Compliant image to the tag or pin a Compliant digest`,
  nodeAgain: (node: string, repoTag: string, digest: string, pullPolicy: string): string =>
    `node ${node} holds ${repoTag} as ${digest} (imagePullPolicy ${pullPolicy}): a replacement there would run it again; pin the digest, set imagePullPolicy: Always, or remove the image from the node`,
  nodeFails: (node: string, repoTag: string, digest: string, pullPolicy: string): string =>
    `node ${node} holds ${repoTag} as ${digest} (imagePullPolicy ${pullPolicy}), which fails the policy too: a replacement there would run it; pin a Compliant digest, set imagePullPolicy: Always, or remove the image from the node`,
  nodeUnlisted: (node: string, listed: number | string, repoTag: string, pullPolicy: string): string =>
    `node ${node} lists ${String(listed)} images, as many as the kubelet reports by default (--node-status-max-images), and not ${repoTag}: it may hold an older copy that a replacement there would run (imagePullPolicy ${pullPolicy}); pin the digest or set imagePullPolicy: Always`,
};

/** The `EvictionWouldNotHelp` Event: `cause` is one of `wouldFailAgain`'s, about `container`. */
export const wouldNotHelpMessage = (
  policy: string,
  workload: string,
  container: string,
  cause: string,
): string =>
  `ImagePolicy ${policy}: not evicted, because a replacement from ${workload} would run a failing image again: container ${container}: ${cause}`;

/** The `EvictionLoop` Event, once, on the replacement that failed again. */
export const loopEventMessage = (a: {
  policy: string;
  workload: string;
  evictedPod: string;
  evictedAt: string;
  digest: string;
  reasons: readonly string[];
}): string =>
  `ImagePolicy ${a.policy}: evictions of ${a.workload} stopped: this replacement of ${a.evictedPod} (evicted at ${a.evictedAt}) runs ${a.digest} and fails again (${a.reasons.join(', ')}); they resume when the workload's template, the tag's target or the node's image changes`;

/** The `EvictionLoop` condition's message while it is True: the stopped workloads, the first five named. */
export function loopConditionMessage(
  stopped: readonly { workload: string; pod: string; digest: string }[],
): string {
  const named = stopped
    .slice(0, 5)
    .map((s) => `${s.workload} (replacement ${s.pod} runs ${s.digest} again)`)
    .join('; ');
  const more = stopped.length > 5 ? ` and ${String(stopped.length - 5)} more` : '';
  return `evictions stopped for ${String(stopped.length)} workload(s), whose replacements ran a failing image again: ${named}${more}; each resumes when its template, its tag's target or its node's image changes`;
}
