/**
 * The per-pod decision of a settle (design §6): for each evicting policy the
 * pod fails, gathers what rules.ts needs (the pod, the policy's budget, the
 * owner's readiness, whether a replacement would run the same failing
 * image) and acts on its answer: wait and re-check, warn that eviction
 * would not help, or — unless the loop guard (loop-guard.ts) says the
 * workload's last eviction looped — hand over to attempt.ts. The cheap
 * checks run first; only a pod that passes them costs an owner lookup or a
 * registry or node answer. A decision resting on a tag's or a node's answer
 * is taken again when that answer is next re-read, not only when the pod
 * changes.
 */
import type { Digest } from '../../base/digest.js';
import type { ReadyPolicy } from '../../policy/compile.js';
import { systemNamespaces } from '../verdicts/scope.js';
import type { PredictedReplacement } from '../verdicts/eviction-status.js';
import { attemptEviction } from './attempt.js';
import { guardEviction, recordedReasons } from './loop-guard.js';
import { wouldNotHelpMessage } from './messages.js';
import { readClock, type NoncompliantClock } from './noncompliant-clock.js';
import type { EvictionContext, JudgedPod } from './options.js';
import type { OwnerInfo } from './owners.js';
import { predictReplacement, type Prediction } from './replacement.js';
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
    const failing = failingNow(judged.results, policy.name);
    // A bare pod comes back from nowhere: evicting it cannot restart-loop.
    const prediction: Prediction | undefined =
      owner === undefined
        ? undefined
        : predictReplacement(
            failing.map((r) => ({
              container: r.container,
              running: r.digest as Digest,
              templateImage: owner.templateImages.get(r.container),
              pullPolicy: owner.templatePullPolicies.get(r.container),
            })),
            options.lookups(key, policy),
            pod.nodeName,
          );
    const decision = decide(owner, prediction?.replacement ?? 'different');
    const answersDue = prediction?.recheckAt === undefined ? undefined : new Date(prediction.recheckAt);
    if (decision.kind === 'wouldNotHelp') {
      if (answersDue !== undefined) recheck(key, answersDue);
      const cause = prediction?.cause;
      await options.events.action(
        pod,
        {
          type: 'Warning',
          reason: 'EvictionWouldNotHelp',
          message: wouldNotHelpMessage(
            policy.name,
            owner === undefined ? 'the pod' : `${owner.kind} ${owner.name}`,
            cause?.container ?? failing[0]?.container ?? '',
            cause?.text ?? 'it would run the same image',
          ),
        },
        // A new cause (the tag moved, the node's copy changed) is news; the same one is said once an hour.
        `${policy.name}|wouldNotHelp|${cause?.text ?? ''}`,
        3_600_000,
      );
      continue;
    }
    if (decision.kind !== 'evict') {
      waitOrLog(context, key, policy, decision, now);
      continue;
    }
    let predicted: PredictedReplacement | undefined;
    if (owner !== undefined && prediction !== undefined) {
      predicted = {
        ...owner.template,
        reasons: recordedReasons(failing.flatMap((r) => r.reasons)),
        images: prediction.images,
      };
      const last = state.lastEviction(policy.name, pod.namespace, `${owner.kind}/${owner.name}`);
      const guard = guardEviction(last, predicted, last !== undefined && context.proven(policy.name, last));
      if (guard.kind === 'stopped' || guard.kind === 'unproven') {
        // A stopped loop waits for another template (only a read of the owner shows it), tag target or
        // node copy; an unproven eviction for its replacement to be judged: looked at every retry interval.
        recheck(key, new Date(now.getTime() + retryMs));
        options.logger.debug('eviction waits', {
          pod: key,
          policy: policy.name,
          reason:
            guard.kind === 'stopped'
              ? 'the last eviction of the workload looped under the same template, tag target and node image'
              : "the last eviction's replacement has not been judged yet",
        });
        continue;
      }
      if (guard.kind === 'released') {
        state.releaseLoop(policy.name, guard.record, now);
        options.logger.info('eviction loop released: the template, a tag target or a node image changed', {
          pod: key,
          policy: policy.name,
          owner: guard.record.owner,
        });
      }
    }
    // An eviction cannot be undone: it acts on evidence fetched just now, never on the last
    // interval's. A registry that went down meanwhile makes the verdict Unknown, which pauses the clock.
    if (!options.evidenceFresh(failing)) {
      recheck(key, new Date(now.getTime() + retryMs));
      return;
    }
    await attemptEviction(context, key, pod, policy, owner, now, predicted);
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
