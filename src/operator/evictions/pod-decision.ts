/**
 * The per-pod decision of a settle (design §6): for each evicting policy the
 * pod fails, gathers what rules.ts needs (the pod, the policy's budget, the
 * owner's readiness, whether a replacement would run the same failing
 * image) and acts on its answer: wait and re-check, warn that eviction
 * would not help, or hand over to attempt.ts. The cheap checks run first;
 * only a pod that passes them costs an owner lookup or a registry answer.
 */
import type { Digest } from '../../base/digest.js';
import type { ReadyPolicy } from '../../policy/compile.js';
import { systemNamespaces } from '../verdicts/scope.js';
import { attemptEviction } from './attempt.js';
import { readClock, type NoncompliantClock } from './noncompliant-clock.js';
import type { EvictionContext, JudgedPod } from './options.js';
import type { OwnerInfo } from './owners.js';
import { predictReplacement } from './replacement.js';
import { evictionDecision, type EvictionCandidate, type Replacement } from './rules.js';
import { durationMs, evicting, failingNow, standing } from './standing.js';

type Decision = ReturnType<typeof evictionDecision>;

/**
 * Considers pod `key` under every policy that selects it; evicts it at most
 * once, for whichever policy asks first.
 * @param remembered the clock as this replica last wrote it, ahead of the watch; else the annotation's
 */
export async function considerPod(
  context: EvictionContext,
  key: string,
  judged: JudgedPod,
  remembered: NoncompliantClock | undefined,
): Promise<void> {
  const { options, state, retryMs, recheck } = context;
  const { pod } = judged;
  const now = options.now();
  const clock = remembered ?? readClock(pod.annotations, now);
  for (const policy of judged.policies) {
    if (!evicting(policy)) continue;
    const verdict = standing(judged.results, policy.name);
    if (verdict === 'other') continue;
    const evict = policy.spec.actions.evict;
    const candidate: EvictionCandidate = {
      namespace: pod.namespace,
      ...(pod.owner === undefined ? {} : { ownerKind: pod.owner.kind }),
      ...(pod.priorityClassName === undefined ? {} : { priorityClassName: pod.priorityClassName }),
      mirror: pod.mirror,
      protectedNamespace:
        systemNamespaces.has(pod.namespace) ||
        pod.namespace === options.operatorNamespace ||
        policy.spec.match.excludeNamespaces.includes(pod.namespace),
      verdict,
      clock,
    };
    const decide = (owner: OwnerInfo | undefined, replacement: Replacement): Decision =>
      evictionDecision({
        spec: policy.spec,
        noncompliantForMs: durationMs(evict.noncompliantFor, 600_000),
        perOwnerIntervalMs: durationMs(evict.perOwnerInterval, 600_000),
        pod: candidate,
        budget: {
          lastHour: state.lastHour(policy.name, now).length,
          ...(owner === undefined
            ? {}
            : (() => {
                const at = state.ownerLastEvictedAt(pod.namespace, `${owner.kind}/${owner.name}`);
                return at === undefined ? {} : { ownerLastEvictedAt: at };
              })()),
          ownerReady: owner?.ready ?? true,
          paused: state.paused(policy.name) !== undefined,
        },
        replacement,
        now,
      });
    // Everything that needs no API call first: most pods stop here.
    const first = decide(undefined, 'different');
    if (first.kind === 'wait' || first.kind === 'never') {
      waitOrLog(context, key, policy, first, now);
      continue;
    }
    let owner: OwnerInfo | undefined;
    if (pod.owner !== undefined) {
      owner = await options.owners.resolve(pod.namespace, pod.owner);
      if (owner === undefined) {
        options.logger.info('eviction waits: the owner is gone or of an unknown kind', {
          pod: key,
          owner: `${pod.owner.kind}/${pod.owner.name}`,
        });
        recheck(key, new Date(now.getTime() + retryMs));
        continue;
      }
    }
    // A bare pod comes back from nowhere: evicting it cannot restart-loop.
    const replacement =
      owner === undefined
        ? 'different'
        : predictReplacement(
            failingNow(judged.results, policy.name).map((r) => ({
              running: r.digest as Digest,
              templateImage: owner.templateImages.get(r.container),
            })),
            options.lookups(key, policy),
          );
    const decision = decide(owner, replacement);
    if (decision.kind === 'wouldNotHelp') {
      await options.events.action(
        pod,
        {
          type: 'Warning',
          reason: 'EvictionWouldNotHelp',
          message: `ImagePolicy ${policy.name}: not evicted, because ${owner === undefined ? 'its replacement' : `${owner.kind} ${owner.name}`} would run the same failing image again; fix the image or the workload's template`,
        },
        `${policy.name}|wouldNotHelp`,
        3_600_000,
      );
      continue;
    }
    if (decision.kind !== 'evict') {
      waitOrLog(context, key, policy, decision, now);
      continue;
    }
    // An eviction cannot be undone: it acts on evidence fetched just now, never on the last
    // interval's. A registry that went down meanwhile makes the verdict Unknown, which pauses the clock.
    if (!options.evidenceFresh(failingNow(judged.results, policy.name))) {
      recheck(key, new Date(now.getTime() + retryMs));
      return;
    }
    await attemptEviction(context, key, pod, policy, owner, now);
    return; // one eviction per pod, whichever policy asked first
  }
}

/** Sets the re-check a waiting pod needs (none for a pod that will never be evicted). */
function waitOrLog(
  context: EvictionContext,
  key: string,
  policy: ReadyPolicy,
  decision: Exclude<Decision, { kind: 'evict' | 'wouldNotHelp' }>,
  now: Date,
): void {
  if (decision.kind === 'never') return;
  let at = decision.retryAt;
  if (at === undefined && decision.reason === 'maxPerHour reached')
    at = context.state.budgetFreesAt(policy.name, now);
  // Stale verdicts and a paused breaker are lifted by events that re-judge the pod anyway.
  const liftedByEvents =
    decision.reason.startsWith('the verdict is stale') || decision.reason.startsWith('evictions paused');
  if (at === undefined && !liftedByEvents) at = new Date(now.getTime() + context.retryMs);
  if (at !== undefined) context.recheck(key, at);
  context.options.logger.debug('eviction waits', { pod: key, policy: policy.name, reason: decision.reason });
}
