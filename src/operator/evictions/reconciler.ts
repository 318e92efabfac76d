/**
 * The eviction reconciler (design §6): turns fresh, definite NonCompliant
 * verdicts of Enforce-mode policies with `actions.evict.enabled` into
 * evictions, with every guard rail of rules.ts in front.
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
 * clock) and the policy status (history, breaker; state.ts). An
 * eviction is recorded in status before the Eviction API is called and the
 * record withdrawn if it did not happen, so a crash can only over-count the
 * hour's budget. Only the leader writes; it re-confirms its lease with the
 * API server right before each eviction.
 *
 * This class keeps the per-pod memory (clocks, pending pods, re-check
 * timers) and the order of a pass; the parts live beside it: the breakers
 * (breakers.ts), the decision per pod (pod-decision.ts) and the eviction
 * attempt with its Events (attempt.ts), the loop guard's watch over
 * replacements (loop-watch.ts).
 */
import type { CompiledPolicy, ReadyPolicy } from '../../policy/compile.js';
import type { EvictionStatus } from '../verdicts/policy-status.js';
import { Breakers, pausedCondition } from './breakers.js';
import { LoopWatch } from './loop-watch.js';
import { EvictionState, type PersistedEvictions } from './state.js';
import {
  advanceClock,
  clockAnnotations,
  readClock,
  type ClockInput,
  type NoncompliantClock,
} from './noncompliant-clock.js';
import type { EvictionContext, EvictionsOptions, JudgedPod } from './options.js';
import { considerPod } from './pod-decision.js';
import { workloadOf } from './owners.js';
import { breakerStanding, clockInput, durationMs, evicting, standing } from './standing.js';

const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

export class Evictions {
  readonly state = new EvictionState();
  /** The clock as last written, per pod uid: the watch may not have delivered our own write yet. */
  private readonly clocks = new Map<string, { uid: string; clock: NoncompliantClock }>();
  /** Pods to consider at the next settle. */
  private readonly pending = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  /** Digests a pod's replacement prediction needs evidence for (kept tracked with the pod's own). */
  private readonly replacementIds = new Map<string, Set<string>>();
  private stopped = false;
  /** What the decision, the attempt and the breakers share with this class. */
  private readonly context: EvictionContext;
  private readonly breakers: Breakers;
  private readonly loops: LoopWatch;

  constructor(private readonly options: EvictionsOptions) {
    this.loops = new LoopWatch({ options, state: this.state });
    this.context = {
      options,
      state: this.state,
      retryMs: options.retryMs ?? 30_000,
      recheck: (key, at) => {
        this.recheck(key, at);
      },
      proven: (policy, record) => this.loops.proven(policy, record),
    };
    this.breakers = new Breakers(this.context);
  }

  /** @returns whether the confirmation annotation changed */
  policyObserved(name: string, persisted: PersistedEvictions): boolean {
    return this.state.observe(name, persisted, this.options.now());
  }

  forgetPolicy(name: string): void {
    this.state.forget(name);
    this.breakers.forgetPolicy(name);
  }

  forgetPod(key: string): void {
    this.clocks.delete(key);
    this.pending.delete(key);
    this.replacementIds.delete(key);
    this.breakers.forgetPod(key);
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
    this.breakers.note(
      key,
      { namespace: pod.namespace, workload: workloadOf(pod), ...(sinceMs === undefined ? {} : { sinceMs }) },
      new Map([...standings.keys()].map((policy) => [policy, breakerStanding(results, policy)] as const)),
      now.getTime(),
    );
    this.loops.note(key, judged, standings.keys());
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
    this.breakers.resetCounts();
  }

  /** Trips or lifts circuit breakers, then considers every pod queued since the last settle. */
  async settle(policies: readonly CompiledPolicy[]): Promise<void> {
    if (this.stopped) return;
    const ready = policies.filter((p): p is ReadyPolicy => p.ready);
    for (const p of ready) if (!evicting(p)) this.breakers.seenNotEvicting(p.name);
    for (const p of ready.filter(evicting)) {
      // perOwnerInterval may exceed the hour status keeps by default.
      this.state.keepFor(p.name, durationMs(p.spec.actions.evict.perOwnerInterval, 600_000));
      await this.breakers.check(p);
    }
    await this.loops.settle(ready);
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
        await considerPod(this.context, key, judged, this.clocks.get(key)?.clock);
      } catch (error: unknown) {
        this.options.logger.warn('eviction decision failed; retrying', {
          pod: key,
          error: error instanceof Error ? error.message : String(error),
        });
        this.recheck(key, new Date(this.options.now().getTime() + this.context.retryMs));
      }
    }
  }

  /** The eviction part of a policy's status. */
  statusOf(policy: CompiledPolicy): EvictionStatus {
    const now = this.options.now();
    const trip = this.state.paused(policy.name);
    const stored = {
      evictions: this.state.records(policy.name, now),
      evictionsPaused: trip ?? null,
      evictionsConfirmed: this.state.confirmed(policy.name) ?? null,
    };
    if (!policy.ready || !evicting(policy)) return stored;
    return { ...stored, condition: pausedCondition(trip), loopCondition: this.loops.condition(policy.name) };
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
