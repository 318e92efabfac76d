/**
 * The eviction reconciler (design §6): turns fresh, definite NonCompliant
 * verdicts of Enforce-mode policies with `actions.evict.enabled` into
 * evictions, with every guard rail of eviction-rules.ts in front.
 *
 * The controller calls it at two points of each pass over its queue:
 * - `observe`, per judged pod: moves the pod's noncompliant-since clock
 *   (returned as annotations for the controller's one pod patch) and notes
 *   transitions for the circuit breaker;
 * - `settle`, once the pass is done: trips or lifts circuit breakers first —
 *   so a burst of new violations from one change is counted whole before
 *   any of its pods is considered — then decides, pod by pod, and evicts.
 *
 * State that must survive a restart lives in the pod annotations (the
 * clock) and the policy status (history, breaker; eviction-state.ts). An
 * eviction is recorded in status before the Eviction API is called and the
 * record withdrawn if it did not happen, so a crash can only over-count the
 * hour's budget. Only the leader writes; it re-confirms its lease with the
 * API server right before each eviction.
 */
import type { Digest } from '../../base/digest.js';
import type { CompiledPolicy, ReadyPolicy } from '../../policy/compile.js';
import { parseDuration } from '../../policy/duration.js';
import { evictionDecision, breakerTrips, type EvictionCandidate, type Replacement } from './rules.js';
import type { BreakerTrip, EvictionRecord } from '../verdicts/eviction-status.js';
import { EvictionState, type PersistedEvictions } from './state.js';
import { evictPod, type EvictionOutcome } from './evictor.js';
import type { EventRecorder } from '../verdicts/pod-events.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { OperatorMetrics } from '../metrics.js';
import { NewViolations } from './new-violations.js';
import {
  advanceClock,
  clockAnnotations,
  readClock,
  type ClockInput,
  type NoncompliantClock,
} from './noncompliant-clock.js';
import type { OwnerInfo, OwnerLookup } from './owners.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import { predictReplacement, type ReplacementLookups } from './replacement.js';
import { systemNamespaces } from '../verdicts/scope.js';

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

/** Whether the policy may evict at all: the only policies whose pods carry a clock. */
const evicting = (p: ReadyPolicy): boolean => p.spec.mode === 'Enforce' && p.spec.actions.evict.enabled;

const ms = (text: string, fallback: number): number => parseDuration(text) ?? fallback;

/**
 * The pod's standing under one policy, from its actionable containers only
 * (design §6). `stale` also covers an Unknown with no definite verdict to
 * fall back on (a restart during an outage): that pauses the clock the
 * annotation kept, where resetting it would be news we do not have.
 */
function standing(results: readonly ContainerResult[], policy: string): ClockInput {
  let stale = false;
  for (const r of results) {
    if (r.policy !== policy || !r.actionable) continue;
    if (r.current === 'NonCompliant') return 'fresh-noncompliant';
    if (r.current === 'Unknown' && (r.verdict === 'NonCompliant' || r.verdict === 'Unknown')) stale = true;
  }
  return stale ? 'stale' : 'other';
}

/** Whether the pod counts as NonCompliant for the circuit breaker: a definite verdict, fresh or stale. */
const definitelyNoncompliant = (results: readonly ContainerResult[], policy: string): boolean =>
  results.some((r) => r.policy === policy && r.actionable && r.verdict === 'NonCompliant');

/** The clock's input over every evicting policy: fresh beats stale beats anything else. */
function clockInput(standings: readonly ClockInput[]): ClockInput {
  if (standings.includes('fresh-noncompliant')) return 'fresh-noncompliant';
  return standings.includes('stale') ? 'stale' : 'other';
}

const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

export class Evictions {
  readonly state = new EvictionState();
  private violations = new NewViolations();
  /** The clock as last written, per pod uid: the watch may not have delivered our own write yet. */
  private readonly clocks = new Map<string, { uid: string; clock: NoncompliantClock }>();
  /** Pods to consider at the next settle. */
  private readonly pending = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Digests a pod's replacement prediction needs evidence for (kept tracked with the pod's own). */
  private readonly replacementIds = new Map<string, Set<string>>();
  private readonly metricsPaused = new Map<string, boolean>();
  private stopped = false;

  constructor(private readonly options: EvictionsOptions) {}

  private get retryMs(): number {
    return this.options.retryMs ?? 30_000;
  }

  /** @returns whether the confirmation annotation changed */
  policyObserved(name: string, persisted: PersistedEvictions): boolean {
    return this.state.observe(name, persisted, this.options.now());
  }

  forgetPolicy(name: string): void {
    this.state.forget(name);
    this.violations.forgetPolicy(name);
    this.metricsPaused.delete(name);
  }

  forgetPod(key: string): void {
    this.clocks.delete(key);
    this.pending.delete(key);
    this.replacementIds.delete(key);
    this.violations.forgetPod(key);
    const t = this.timers.get(key);
    clearTimeout(t?.timer);
    this.timers.delete(key);
  }

  /** Digests kept under verification for `key`'s replacement prediction. */
  extraIds(key: string): ReadonlySet<string> {
    return this.replacementIds.get(key) ?? new Set();
  }

  /** Notes that `key`'s prediction needs `id` tracked (the controller tracks it with the pod). */
  keep(key: string, id: string): void {
    let ids = this.replacementIds.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.replacementIds.set(key, ids);
    }
    ids.add(id);
  }

  private isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }

  /**
   * Notes a fully judged pod: advances its clock and the breaker's counts,
   * queues it for `settle` if it fails an evicting policy.
   * @returns the clock annotations to write (merge-patch values), if they change
   */
  observe(judged: JudgedPod): Record<string, string | null> | undefined {
    const { pod, results } = judged;
    const key = podKey(pod);
    const now = this.options.now();
    const standings = new Map<string, ClockInput>();
    for (const p of judged.policies) if (evicting(p)) standings.set(p.name, standing(results, p.name));
    // When the annotation says it turned (from before a restart or a change of leader), if it does.
    const sinceMs = readClock(pod.annotations, now).since?.getTime();
    this.violations.note(
      key,
      new Map(
        [...standings.keys()].map(
          (policy) =>
            [
              policy,
              {
                noncompliant: definitelyNoncompliant(results, policy),
                ...(sinceMs === undefined ? {} : { sinceMs }),
              },
            ] as const,
        ),
      ),
      now.getTime(),
    );
    const input = clockInput([...standings.values()]);
    if (input === 'other') this.replacementIds.delete(key);
    else this.pending.add(key);
    // Only the leader keeps a clock in memory (ahead of the watch echoing its own writes); a
    // follower's verdicts rest on evidence it no longer refreshes, so it must not carry a clock over.
    if (!this.options.mayWrite()) {
      this.clocks.delete(key);
      return undefined;
    }
    const remembered = this.clocks.get(key);
    const before = remembered?.uid === pod.uid ? remembered.clock : readClock(pod.annotations, now);
    const clock = advanceClock(before, input, now);
    this.clocks.set(key, { uid: pod.uid, clock });
    if (input === 'other') this.clocks.delete(key);
    const wanted = clockAnnotations(clock);
    const patch: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(wanted)) if ((pod.annotations[k] ?? null) !== v) patch[k] = v;
    return Object.keys(patch).length === 0 ? undefined : patch;
  }

  /**
   * Forgets what this replica remembered while it may have been a follower
   * (clocks, breaker counts): after gaining the lease, the annotations and
   * the policy status are the truth.
   */
  resetMemory(): void {
    this.clocks.clear();
    this.violations = new NewViolations();
  }

  /** Trips or lifts circuit breakers, then considers every pod queued since the last settle. */
  async settle(policies: readonly CompiledPolicy[]): Promise<void> {
    if (this.stopped) return;
    const ready = policies.filter((p): p is ReadyPolicy => p.ready && evicting(p));
    for (const p of ready) {
      // perOwnerInterval may exceed the hour status keeps by default.
      this.state.keepFor(p.name, ms(p.spec.actions.evict.perOwnerInterval, 600_000));
      await this.checkBreaker(p);
    }
    if (!this.options.mayWrite()) {
      // A follower decides nothing; the leader's resync queues everything again.
      this.pending.clear();
      return;
    }
    const keys = [...this.pending];
    this.pending.clear();
    for (const key of keys) {
      // Leadership can end mid-pass; a stopped reconciler has no timers to come back with.
      if (!this.options.mayWrite() || this.isStopped()) return;
      const judged = this.options.judged(key);
      if (judged === undefined) continue;
      try {
        await this.consider(key, judged);
      } catch (error: unknown) {
        this.options.logger.warn('eviction decision failed; retrying', {
          pod: key,
          error: error instanceof Error ? error.message : String(error),
        });
        this.recheck(key, new Date(this.options.now().getTime() + this.retryMs));
      }
    }
  }

  /** The eviction part of a policy's status. */
  statusOf(policy: CompiledPolicy): {
    evictions: EvictionRecord[];
    evictionsPaused: BreakerTrip | null;
    condition?: { status: 'True' | 'False'; reason: string; message: string };
  } {
    const now = this.options.now();
    const evictions = this.state.records(policy.name, now);
    const trip = this.state.paused(policy.name);
    if (!policy.ready || !evicting(policy)) return { evictions, evictionsPaused: trip ?? null };
    const condition =
      trip === undefined
        ? { status: 'False' as const, reason: 'NotPaused', message: '' }
        : {
            status: 'True' as const,
            reason: 'TooManyNewViolations',
            message: `${String(trip.newlyNonCompliant)} of ${String(trip.matchedPods)} matched pods turned NonCompliant at once (more than ${String(policy.spec.actions.evict.maxNewViolationsPercent)}%); evictions are paused until the annotation sigwatch.dev/confirm-evictions names generation ${String(trip.generation)}${trip.confirmationAtTrip === undefined ? '' : ` with a value other than the one it had when this tripped (e.g. ${String(trip.generation)}/again)`}`,
          };
    return { evictions, evictionsPaused: trip ?? null, condition };
  }

  private async checkBreaker(p: ReadyPolicy): Promise<void> {
    const evict = p.spec.actions.evict;
    const wasPaused = this.metricsPaused.get(p.name) ?? false;
    let trip = this.state.paused(p.name);
    if (trip === undefined && wasPaused) {
      // Confirmed by a human: what tripped it no longer counts as new.
      this.violations.settle(p.name);
      this.options.logger.info('evictions confirmed; circuit breaker lifted', { policy: p.name });
      if (this.options.mayWrite()) await this.options.persist(p.name);
    }
    // Only the leader trips breakers: a follower's verdicts rest on evidence it no longer refreshes.
    if (trip === undefined && this.options.mayWrite()) {
      const now = this.options.now();
      const { newly, matched } = this.violations.count(
        p.name,
        ms(evict.noncompliantFor, 600_000),
        now.getTime(),
      );
      if (breakerTrips(newly, matched, evict.maxNewViolationsPercent)) {
        trip = this.state.trip(p.name, {
          generation: p.generation,
          since: now.toISOString(),
          newlyNonCompliant: newly,
          matchedPods: matched,
        });
        this.options.logger.warn('circuit breaker tripped: evictions paused', {
          policy: p.name,
          newly,
          matched,
        });
        if (this.options.mayWrite()) await this.options.persist(p.name);
      }
    }
    const paused = trip !== undefined;
    this.metricsPaused.set(p.name, paused);
    this.options.metrics?.evictionsPaused.set({ policy: p.name }, paused ? 1 : 0);
  }

  private async consider(key: string, judged: JudgedPod): Promise<void> {
    const { pod } = judged;
    const now = this.options.now();
    const clock = this.clocks.get(key)?.clock ?? readClock(pod.annotations, now);
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
          pod.namespace === this.options.operatorNamespace ||
          policy.spec.match.excludeNamespaces.includes(pod.namespace),
        verdict,
        clock,
      };
      const decide = (
        owner: OwnerInfo | undefined,
        replacement: Replacement,
      ): ReturnType<typeof evictionDecision> =>
        evictionDecision({
          spec: policy.spec,
          noncompliantForMs: ms(evict.noncompliantFor, 600_000),
          perOwnerIntervalMs: ms(evict.perOwnerInterval, 600_000),
          pod: candidate,
          budget: {
            lastHour: this.state.lastHour(policy.name, now).length,
            ...(owner === undefined
              ? {}
              : (() => {
                  const at = this.state.ownerLastEvictedAt(pod.namespace, `${owner.kind}/${owner.name}`);
                  return at === undefined ? {} : { ownerLastEvictedAt: at };
                })()),
            ownerReady: owner?.ready ?? true,
            paused: this.state.paused(policy.name) !== undefined,
          },
          replacement,
          now,
        });
      // Everything that needs no API call first: most pods stop here.
      const first = decide(undefined, 'different');
      if (first.kind === 'wait' || first.kind === 'never') {
        this.waitOrLog(key, policy, first, now);
        continue;
      }
      let owner: OwnerInfo | undefined;
      if (pod.owner !== undefined) {
        owner = await this.options.owners.resolve(pod.namespace, pod.owner);
        if (owner === undefined) {
          this.options.logger.info('eviction waits: the owner is gone or of an unknown kind', {
            pod: key,
            owner: `${pod.owner.kind}/${pod.owner.name}`,
          });
          this.recheck(key, new Date(now.getTime() + this.retryMs));
          continue;
        }
      }
      // A bare pod comes back from nowhere: evicting it cannot restart-loop.
      const replacement =
        owner === undefined
          ? 'different'
          : predictReplacement(
              judged.results
                .filter((r) => r.policy === policy.name && r.actionable && r.current === 'NonCompliant')
                .map((r) => ({
                  running: r.digest as Digest,
                  templateImage: owner.templateImages.get(r.container),
                })),
              this.options.lookups(key, policy),
            );
      const decision = decide(owner, replacement);
      if (decision.kind === 'wouldNotHelp') {
        await this.options.events.action(
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
        this.waitOrLog(key, policy, decision, now);
        continue;
      }
      // An eviction cannot be undone: it acts on evidence fetched just now, never on the last
      // interval's. A registry that went down meanwhile makes the verdict Unknown, which pauses the clock.
      const failing = judged.results.filter(
        (r) => r.policy === policy.name && r.actionable && r.current === 'NonCompliant',
      );
      if (!this.options.evidenceFresh(failing)) {
        this.recheck(key, new Date(now.getTime() + this.retryMs));
        return;
      }
      await this.evict(key, pod, policy, owner, now);
      return; // one eviction per pod, whichever policy asked first
    }
  }

  private waitOrLog(
    key: string,
    policy: ReadyPolicy,
    decision: Exclude<ReturnType<typeof evictionDecision>, { kind: 'evict' | 'wouldNotHelp' }>,
    now: Date,
  ): void {
    if (decision.kind === 'never') return;
    let at = decision.retryAt;
    if (at === undefined && decision.reason === 'maxPerHour reached')
      at = this.state.budgetFreesAt(policy.name, now);
    // Stale verdicts and a paused breaker are lifted by events that re-judge the pod anyway.
    const liftedByEvents =
      decision.reason.startsWith('the verdict is stale') || decision.reason.startsWith('evictions paused');
    if (at === undefined && !liftedByEvents) at = new Date(now.getTime() + this.retryMs);
    if (at !== undefined) this.recheck(key, at);
    this.options.logger.debug('eviction waits', { pod: key, policy: policy.name, reason: decision.reason });
  }

  private async evict(
    key: string,
    pod: TrimmedPod,
    policy: ReadyPolicy,
    owner: OwnerInfo | undefined,
    now: Date,
  ): Promise<void> {
    const record: EvictionRecord = {
      time: now.toISOString(),
      namespace: pod.namespace,
      pod: pod.name,
      owner: owner === undefined ? `Pod/${pod.name}` : `${owner.kind}/${owner.name}`,
    };
    // Recorded first: if we crash after the eviction, the budget still counts it.
    this.state.record(policy.name, record);
    if (!(await this.options.persist(policy.name))) {
      this.state.withdraw(policy.name, record, now);
      this.options.logger.warn('eviction postponed: its record could not be written to the policy status', {
        pod: key,
        policy: policy.name,
      });
      this.recheck(key, new Date(now.getTime() + this.retryMs));
      return;
    }
    // Right before the call that cannot be undone (the status write may have waited): the API
    // server must still name us as the holder of the lease.
    if (!(await this.options.confirmLease())) {
      this.options.logger.warn('eviction skipped: the lease is no longer certainly ours', { pod: key });
      // Nothing was evicted: take the record back if we still may write, else it over-counts (the safe side).
      if (this.options.mayWrite()) {
        this.state.withdraw(policy.name, record, this.options.now());
        await this.options.persist(policy.name);
      }
      this.recheck(key, new Date(this.options.now().getTime() + this.retryMs));
      return;
    }
    let outcome: EvictionOutcome;
    try {
      outcome = await evictPod(this.options.kube, pod);
    } catch (error: unknown) {
      outcome = {
        kind: 'failed',
        status: 0,
        message: error instanceof Error ? error.message : String(error),
      };
    }
    if (outcome.kind === 'evicted') {
      this.options.metrics?.evictions.inc({ policy: policy.name, namespace: pod.namespace });
      this.options.logger.info('pod evicted', { pod: key, policy: policy.name, owner: record.owner });
      await this.options.events.action(
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
      this.state.withdraw(policy.name, record, this.options.now());
      await this.options.persist(policy.name);
    }
    if (outcome.kind === 'gone') return;
    const message =
      outcome.kind === 'refused' ? outcome.message : `${String(outcome.status)} ${outcome.message}`;
    this.options.logger.info(
      outcome.kind === 'refused' ? 'eviction refused; retrying later' : 'eviction failed; retrying later',
      { pod: key, policy: policy.name, message },
    );
    if (outcome.kind === 'refused')
      await this.options.events.action(
        pod,
        {
          type: 'Warning',
          reason: 'EvictionRefused',
          message: `ImagePolicy ${policy.name}: eviction refused (${message || 'a PodDisruptionBudget'}); retrying later, never forced`,
        },
        `${policy.name}|refused`,
        600_000,
      );
    this.recheck(key, new Date(this.options.now().getTime() + this.retryMs));
  }

  private recheck(key: string, at: Date): void {
    if (this.stopped) return;
    const t = at.getTime();
    const current = this.timers.get(key);
    if (current !== undefined && current.at <= t) return;
    clearTimeout(current?.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.options.requeue(key);
      },
      Math.min(2 ** 31 - 1, Math.max(0, t - this.options.now().getTime()) + 5),
    );
    timer.unref();
    this.timers.set(key, { at: t, timer });
  }
}
