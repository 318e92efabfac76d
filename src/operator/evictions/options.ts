/**
 * What the eviction reconciler is given: the pod as the controller judged
 * it, and the controller's callbacks (status writes, re-queues, the lease,
 * evidence freshness). Apart from reconciler.ts so that the modules doing
 * its parts (pod-decision.ts, attempt.ts, breakers.ts) can name them without
 * importing the class that drives them.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { EventRecorder } from '../verdicts/pod-events.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { OperatorMetrics } from '../metrics.js';
import type { OwnerLookup } from './owners.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import type { ReplacementLookups } from './replacement.js';
import type { EvictionState } from './state.js';
import type { EvictionRecord } from '../verdicts/eviction-status.js';

/** A pod as the controller last judged it, for `settle`. */
export interface JudgedPod {
  readonly pod: TrimmedPod;
  readonly results: readonly ContainerResult[];
  /** Ready policies that select the pod. */
  readonly policies: readonly ReadyPolicy[];
}

export interface EvictionsOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly events: EventRecorder;
  readonly owners: OwnerLookup;
  readonly operatorNamespace: string;
  readonly now: () => Date;
  readonly mayWrite: () => boolean;
  /** Asks the API server whether the lease is still ours (before each eviction). */
  readonly confirmLease: () => Promise<boolean>;
  /** Writes the policy's status now; true once what it holds matches memory. */
  readonly persist: (policy: string) => Promise<boolean>;
  /** Re-judges a pod (a wait is over). */
  readonly requeue: (key: string) => void;
  /** The current judgement of a pod; undefined when it is gone. */
  readonly judged: (key: string) => JudgedPod | undefined;
  /**
   * Whether these results were judged from evidence that is still the
   * store's and was confirmed complete moments ago; if not, a fetch is
   * started (or has changed the evidence) and the pod is re-queued when it lands.
   */
  readonly evidenceFresh: (results: readonly ContainerResult[]) => boolean;
  /** Registry answers and verdicts for predicting a replacement, on behalf of pod `key`. */
  readonly lookups: (key: string, policy: ReadyPolicy) => ReplacementLookups;
  readonly metrics?: OperatorMetrics;
  /** Delay before a refused or failed eviction, an unready owner or an unknown replacement is looked at again. */
  readonly retryMs?: number;
}

/** What the reconciler's parts share: its options, its eviction history and breakers, its re-check timers. */
export interface EvictionContext {
  readonly options: EvictionsOptions;
  readonly state: EvictionState;
  /** `options.retryMs` or its default. */
  readonly retryMs: number;
  /** Re-judges pod `key` at `at` (or earlier, if a sooner re-check is already set). */
  readonly recheck: (key: string, at: Date) => void;
  /** Whether a replacement of the eviction in `record` was judged and passed the policy (loop-guard.ts). */
  readonly proven: (policy: string, record: EvictionRecord) => boolean;
}
