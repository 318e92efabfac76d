/**
 * The loop guard at work in the reconciler (the rules are loop-guard.ts):
 * watches the replacements of evicted pods as they are judged, marks an
 * eviction whose replacement failed again as a loop (persisted in the
 * policy status, announced once with the Event `EvictionLoop`), remembers
 * the evictions whose replacement passed, and releases a loop once the
 * template that looped is gone or edited. Apart from the reconciler as the
 * breakers are: it judges workloads across passes, never one pod's decision.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { EvictionLoop, EvictionRecord } from '../verdicts/eviction-status.js';
import { isReplacement, replacementOutcome } from './loop-guard.js';
import { loopConditionMessage, loopEventMessage } from './messages.js';
import type { EvictionContext, JudgedPod } from './options.js';
import { breakerStanding, failingNow, standing } from './standing.js';
import { recordId } from './state.js';

/** How often a looped workload's template is read to see whether it is gone or edited. */
const templateCheckMs = 60_000;
/** Bound of the memory of proven evictions and template checks (forgotten all at once beyond it). */
const maxRemembered = 10_000;

const workload = (r: EvictionRecord): string => r.owner.replace('/', ' ');

export class LoopWatch {
  /** `policy|record id` of evictions with a replacement judged and passing: memory, re-learnt after a restart. */
  private readonly passed = new Set<string>();
  /** Loops found while judging, to persist and announce at the next settle. */
  private found: { policy: string; key: string; record: EvictionRecord; loop: EvictionLoop }[] = [];
  /** When each looped record's template was last read, by `policy|record id`. */
  private readonly checked = new Map<string, number>();

  constructor(private readonly context: Pick<EvictionContext, 'options' | 'state'>) {}

  /** Looks at a fully judged pod as a possible replacement of an eviction under each of `policies`. */
  note(key: string, judged: JudgedPod, policies: Iterable<string>): void {
    const { pod, results } = judged;
    if (pod.owner === undefined) return;
    const { options, state } = this.context;
    const controller = `${pod.owner.kind}/${pod.owner.name}`;
    for (const policy of policies) {
      const record = state.lastFromController(policy, pod.namespace, controller);
      if (record === undefined || !isReplacement(record, pod)) continue;
      const failing = failingNow(results, policy);
      const passes =
        standing(results, policy) === 'other' && breakerStanding(results, policy).failing.length === 0;
      const outcome = replacementOutcome(
        record,
        failing.flatMap((r) => r.reasons),
        passes,
      );
      if (outcome === 'passed') {
        if (this.passed.size >= maxRemembered) this.passed.clear();
        this.passed.add(`${policy}|${recordId(record)}`);
      }
      // Only the leader marks: a follower's verdicts rest on evidence it no longer refreshes.
      if (outcome !== 'loop' || record.loop !== undefined || !options.mayWrite()) continue;
      const again = failing.find((r) => r.reasons.some((x) => record.predicted?.reasons.includes(x)));
      const loop: EvictionLoop = {
        time: options.now().toISOString(),
        pod: pod.name,
        digest: again?.digest ?? '',
      };
      if (state.markLoop(policy, record, loop)) this.found.push({ policy, key, record, loop });
    }
  }

  /** Whether a replacement of the eviction in `record` was judged and passed. */
  proven(policy: string, record: EvictionRecord): boolean {
    return this.passed.has(`${policy}|${recordId(record)}`);
  }

  /** Persists and announces the loops found since the last settle; releases loops whose template is gone. */
  async settle(policies: readonly ReadyPolicy[]): Promise<void> {
    const { options } = this.context;
    const found = this.found;
    this.found = [];
    if (!options.mayWrite()) return;
    for (const policy of new Set(found.map((f) => f.policy))) await options.persist(policy);
    for (const f of found) {
      const reasons = f.record.predicted?.reasons ?? [];
      options.logger.warn('eviction loop: a replacement failed again; evictions of the workload stopped', {
        pod: f.key,
        policy: f.policy,
        owner: f.record.owner,
        digest: f.loop.digest,
      });
      const pod = options.judged(f.key)?.pod;
      if (pod === undefined) continue;
      await options.events.action(
        pod,
        {
          type: 'Warning',
          reason: 'EvictionLoop',
          message: loopEventMessage({
            policy: f.policy,
            workload: workload(f.record),
            evictedPod: f.record.pod,
            evictedAt: f.record.time,
            digest: f.loop.digest,
            reasons,
          }),
        },
        `${f.policy}|loop|${recordId(f.record)}`,
        24 * 3_600_000,
      );
    }
    for (const p of policies) await this.releaseGone(p.name);
  }

  /**
   * Releases the policy's loops whose template object is gone, scaled to
   * zero or edited (a new generation): no pod will come from it again. A
   * loop under a template that still stands is released only by a decision
   * that finds its tag target or node image changed (pod-decision.ts).
   */
  private async releaseGone(policy: string): Promise<void> {
    const { options, state } = this.context;
    const now = options.now();
    for (const record of state.loops(policy, now)) {
      const predicted = record.predicted;
      const id = `${policy}|${recordId(record)}`;
      const last = this.checked.get(id);
      if (predicted === undefined || (last !== undefined && now.getTime() - last < templateCheckMs)) continue;
      if (this.checked.size >= maxRemembered) this.checked.clear();
      this.checked.set(id, now.getTime());
      let current;
      try {
        current = await options.owners.templateState(record.namespace, predicted.controller);
      } catch (error: unknown) {
        options.logger.debug('could not read a looped workload; trying later', {
          policy,
          owner: record.owner,
          error: error instanceof Error ? error.message : String(error),
        });
        continue;
      }
      if (current?.generation === predicted.generation && current.replicas !== 0) continue;
      if (!state.releaseLoop(policy, record, now)) continue;
      options.logger.info('eviction loop released: the template that looped is gone or was edited', {
        policy,
        owner: record.owner,
      });
      await options.persist(policy);
    }
  }

  /** The `EvictionLoop` condition of a policy that can evict. */
  condition(policy: string): { status: 'True' | 'False'; reason: string; message: string } {
    const loops = this.context.state.loops(policy, this.context.options.now());
    if (loops.length === 0) return { status: 'False', reason: 'NoLoop', message: '' };
    return {
      status: 'True',
      reason: 'ReplacementFailedAgain',
      message: loopConditionMessage(
        loops.map((r) => ({
          workload: r.owner.replace('/', ` ${r.namespace}/`),
          pod: r.loop?.pod ?? '',
          digest: r.loop?.digest ?? '',
        })),
      ),
    };
  }
}
