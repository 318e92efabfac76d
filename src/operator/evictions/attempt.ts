/**
 * One eviction attempt, once the per-pod decision said "evict": the part
 * that cannot be undone, so it is guarded on every side. The record is
 * written to the policy status before the Eviction API is called and
 * withdrawn only on a definite "did not happen" (a crash or a timeout can
 * only over-count the hour's budget); the lease is re-confirmed with the
 * API server right before the call; the outcome becomes a metric, a log
 * line, an Event on the pod and, unless the pod is gone, a re-check.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { EvictionRecord, PredictedReplacement } from '../verdicts/eviction-status.js';
import type { TrimmedPod } from '../pod.js';
import { evictPod, type EvictionOutcome } from './evictor.js';
import type { EvictionContext } from './options.js';
import type { OwnerInfo } from './owners.js';

export async function attemptEviction(
  context: EvictionContext,
  key: string,
  pod: TrimmedPod,
  policy: ReadyPolicy,
  owner: OwnerInfo | undefined,
  now: Date,
  /** What the replacement was predicted from: kept in the record for the loop guard. */
  predicted?: PredictedReplacement,
): Promise<void> {
  const { options, state, retryMs, recheck } = context;
  const record: EvictionRecord = {
    time: now.toISOString(),
    namespace: pod.namespace,
    pod: pod.name,
    owner: owner === undefined ? `Pod/${pod.name}` : `${owner.kind}/${owner.name}`,
    ...(predicted === undefined ? {} : { predicted }),
  };
  // Recorded first: if we crash after the eviction, the budget still counts it.
  state.record(policy.name, record);
  if (!(await options.persist(policy.name))) {
    state.withdraw(policy.name, record, now);
    options.logger.warn('eviction postponed: its record could not be written to the policy status', {
      pod: key,
      policy: policy.name,
    });
    recheck(key, new Date(now.getTime() + retryMs));
    return;
  }
  // Right before the call that cannot be undone (the status write may have waited): the API
  // server must still name us as the holder of the lease.
  if (!(await options.confirmLease())) {
    options.logger.warn('eviction skipped: the lease is no longer certainly ours', { pod: key });
    // Nothing was evicted: take the record back if we still may write, else it over-counts (the safe side).
    if (options.mayWrite()) {
      state.withdraw(policy.name, record, options.now());
      await options.persist(policy.name);
    }
    recheck(key, new Date(options.now().getTime() + retryMs));
    return;
  }
  let outcome: EvictionOutcome;
  try {
    outcome = await evictPod(options.kube, pod);
  } catch (error: unknown) {
    outcome = {
      kind: 'failed',
      status: 0,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  if (outcome.kind === 'evicted') {
    options.metrics?.evictions.inc({ policy: policy.name, namespace: pod.namespace });
    options.logger.info('pod evicted', { pod: key, policy: policy.name, owner: record.owner });
    await options.events.action(
      pod,
      {
        type: 'Warning',
        reason: 'EvictedNonCompliant',
        message: `Evicted by Sigwatch: freshly NonCompliant under ImagePolicy ${policy.name} for longer than ${policy.spec.actions.evict.noncompliantFor}`,
      },
      'evicted',
      3_600_000,
    );
    return;
  }
  // Withdrawn only on a definite "did not happen"; a timeout or a 5xx may have evicted after all.
  const definite =
    outcome.kind !== 'failed' || (outcome.status >= 400 && outcome.status < 500 && outcome.status !== 408);
  if (definite) {
    state.withdraw(policy.name, record, options.now());
    await options.persist(policy.name);
  }
  if (outcome.kind === 'gone') return;
  const refused = outcome.kind === 'refused';
  const status = outcome.kind === 'refused' ? 429 : outcome.status;
  // The cause is a field of its own: winston would append a `message` field to the log message.
  options.logger.info(refused ? 'eviction refused, retried later' : 'eviction failed, retried later', {
    pod: key,
    policy: policy.name,
    status,
    cause: outcome.message,
    retryInMs: retryMs,
  });
  const message = refused ? outcome.message : `${String(status)} ${outcome.message}`;
  if (refused)
    await options.events.action(
      pod,
      {
        type: 'Warning',
        reason: 'EvictionRefused',
        message: `ImagePolicy ${policy.name}: eviction refused (${message || 'a PodDisruptionBudget'}); retrying later, never forced`,
      },
      `${policy.name}|refused`,
      600_000,
      'owner',
    );
  recheck(key, new Date(options.now().getTime() + retryMs));
}
