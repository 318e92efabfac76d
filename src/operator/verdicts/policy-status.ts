/**
 * `ImagePolicy.status` (design §2): observedGeneration, the conditions
 * Ready / Synced / Degraded in the standard shape, summary counts and the
 * 50 most recent violations and Unknown containers (status-entries.ts: the
 * lists and the counts come from the same per-pod verdict). Debounced,
 * written only when it changed, only through the status subresource (the
 * spec is never written, so GitOps tools see no drift), and only by the
 * leader.
 */
import type { Reason } from '../../base/reasons.js';
import { isUnknownReason } from '../../base/reasons.js';
import type { CompiledPolicy } from '../../policy/compile.js';
import { verdictSeverity, type Verdict } from '../../policy/verdict.js';
import type { BreakerConfirmation, BreakerTrip, EvictionRecord } from './eviction-status.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import { asArray, asObject, asString } from '../../base/json.js';
import type { DefiniteVerdict } from './pod-label.js';
import {
  EntryLists,
  readStoredSince,
  VerdictTimes,
  type UnknownEntry,
  type Violation,
} from './status-entries.js';

/** One container's verdict under one policy, as the controller found it. */
export interface ContainerResult {
  readonly policy: string;
  readonly container: string;
  readonly image: string;
  readonly digest: string;
  readonly digestKey: string;
  /** Effective verdict: the last definite one while the current is Unknown. */
  readonly verdict: Verdict;
  readonly current: Verdict;
  readonly stale: boolean;
  /** The current verdict's (Unknown-class reasons while `stale`). */
  readonly reasons: readonly Reason[];
  readonly message: string;
  /** While `stale`: the last definite verdict's reasons and message, which explain `verdict`. */
  readonly lastDefinite?: DefiniteVerdict;
  readonly actionable: boolean;
  /** When a Compliant verdict's evidence expires (ms), if it does. */
  readonly validUntil?: number;
  /** When the evidence this was judged from was fetched (ms): an eviction must act on the store's current evidence. */
  readonly evidenceAt: number;
}

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export interface PolicyStatus {
  observedGeneration: number;
  conditions: Condition[];
  summary: {
    pods: number;
    images: number;
    compliant: number;
    nonCompliant: number;
    unknown: number;
    exempt: number;
  };
  /** NonCompliant containers of the pods counted nonCompliant, newest first. */
  violations: Violation[];
  /** Unknown containers of the pods counted unknown, newest first. */
  unknown: UnknownEntry[];
  /** The last hour's evictions (eviction-state.ts); always written, so old entries are dropped. */
  evictions: EvictionRecord[];
  /** A tripped circuit breaker; null removes it (merge patch). */
  evictionsPaused: BreakerTrip | null;
  /** The confirmation that last lifted the breaker. */
  evictionsConfirmed: BreakerConfirmation | null;
}

/** What the eviction reconciler adds to a policy's status. */
export interface EvictionStatus {
  readonly evictions: EvictionRecord[];
  readonly evictionsPaused: BreakerTrip | null;
  readonly evictionsConfirmed: BreakerConfirmation | null;
  /** The EvictionsPaused condition; absent for a policy that cannot evict. */
  readonly condition?: { status: 'True' | 'False'; reason: string; message: string };
  /** The EvictionLoop condition (evictions/loop-guard.ts); absent for a policy that cannot evict. */
  readonly loopCondition?: { status: 'True' | 'False'; reason: string; message: string };
}

export interface PolicyStatusOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly mayWrite: () => boolean;
  readonly debounceMs: number;
  readonly now: () => Date;
  /** Per-policy pod and image counts by verdict, each time statuses are computed (metrics). */
  readonly onCounts?: (
    policy: string,
    pods: Readonly<Partial<Record<Verdict, number>>>,
    images: Readonly<Partial<Record<Verdict, number>>>,
  ) => void;
  readonly evictions?: (policy: CompiledPolicy) => EvictionStatus;
}

const maxMessage = 1024;
const maxStoredConditions = 16;

/**
 * What a stored status says that must outlive the replica that wrote it:
 * when each condition last changed and when each listed entry began.
 * Read back from the policy watch, so a restart or a new leader keeps them
 * instead of stamping every condition and entry with "now".
 */
export interface StoredStatus {
  readonly conditions: ReadonlyMap<string, { readonly status: string; readonly lastTransitionTime: string }>;
  /** `since` of the listed violations and Unknown containers, by `namespace/pod|container|digest|verdict`. */
  readonly since: ReadonlyMap<string, string>;
}

const isTime = (v: string | undefined): v is string => v !== undefined && Number.isFinite(Date.parse(v));

/** Reads `status.conditions`, `status.violations` and `status.unknown` of a watched ImagePolicy; anything malformed is skipped. */
export function readStoredStatus(raw: unknown): StoredStatus {
  const status = asObject(asObject(raw)?.['status']);
  const conditions = new Map<string, { status: string; lastTransitionTime: string }>();
  for (const c of asArray(status?.['conditions']).slice(0, maxStoredConditions)) {
    const o = asObject(c);
    const type = asString(o?.['type']);
    const s = asString(o?.['status']);
    const lastTransitionTime = asString(o?.['lastTransitionTime']);
    if (type !== undefined && s !== undefined && isTime(lastTransitionTime))
      conditions.set(type, { status: s, lastTransitionTime });
  }
  return { conditions, since: readStoredSince(status) };
}

export class PolicyStatusWriter {
  private policies = new Map<string, CompiledPolicy>();
  private readonly podResults = new Map<string, readonly ContainerResult[]>();
  private readonly written = new Map<string, PolicyStatus>();
  /** When each pod's current verdicts were judged: recorded with the results, not when the status is computed. */
  private readonly times = new VerdictTimes();
  private readonly stored = new Map<string, StoredStatus>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: PolicyStatusOptions) {}

  setPolicies(policies: readonly CompiledPolicy[]): void {
    this.policies = new Map(policies.map((p) => [p.name, p]));
    this.schedule();
  }

  /** A pod's results, judged at `judgedAt` (default now): the time its NonCompliant and Unknown entries start from. */
  setPodResults(podKey: string, results: readonly ContainerResult[], judgedAt = this.options.now()): void {
    if (results.length === 0) this.podResults.delete(podKey);
    else this.podResults.set(podKey, results);
    this.times.set(podKey, results, judgedAt.getTime());
    this.schedule();
  }

  /**
   * Forgets what this replica wrote in an earlier term (after gaining the
   * lease): the stored status, written by whoever led meanwhile, is the truth.
   */
  clear(): void {
    this.written.clear();
  }

  /** The policy's status as stored (the watch delivers ours and a former leader's writes). */
  observeStored(policy: string, stored: StoredStatus): void {
    this.stored.set(policy, stored);
  }

  forget(policy: string): void {
    this.written.delete(policy);
    this.stored.delete(policy);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Writes every changed status now (tests; shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writeAll();
  }

  /**
   * Writes one policy's status now (an eviction's record must be stored
   * before the eviction); true when what is stored matches memory.
   */
  async flushPolicy(name: string): Promise<boolean> {
    const policy = this.policies.get(name);
    if (policy === undefined) return false;
    await this.writeAll([policy]);
    const written = this.written.get(name);
    return written !== undefined && JSON.stringify(written) === JSON.stringify(this.compute(policy));
  }

  /** The status a policy should have now. Pure apart from the clock and the remembered transition times. */
  compute(policy: CompiledPolicy): PolicyStatus {
    const now = this.options.now().toISOString();
    const previous = this.written.get(policy.name);
    const stored = this.stored.get(policy.name);
    // Anyone who may write the status could store a time in the future, which would then stand for ever.
    const nowMs = Date.parse(now);
    const past = (t: string | undefined): string | undefined =>
      t !== undefined && Date.parse(t) <= nowMs ? t : undefined;
    const condition = (
      type: string,
      status: Condition['status'],
      reason: string,
      message: string,
    ): Condition => {
      // As metav1.Condition: the time moves only when the status does, whoever wrote it last.
      const kept = stored?.conditions.get(type);
      const before =
        previous?.conditions.find((c) => c.type === type) ??
        (kept === undefined || past(kept.lastTransitionTime) === undefined ? undefined : kept);
      const lastTransitionTime = before?.status === status ? before.lastTransitionTime : now;
      return {
        type,
        status,
        reason,
        message: message.slice(0, maxMessage),
        lastTransitionTime,
        observedGeneration: policy.generation,
      };
    };
    // Each pod is counted once, by the worst verdict of its containers, and listed by that verdict alone.
    const perPod = new Map<string, Verdict>();
    const images = new Map<string, Verdict>();
    const lists = new EntryLists(this.times, stored?.since, nowMs);
    let registryTrouble = 0;
    for (const [podKey, all] of this.podResults) {
      const results = all.filter((r) => r.policy === policy.name);
      let worst: Verdict | undefined;
      for (const r of results) {
        const worstImage = images.get(r.digestKey);
        if (worstImage === undefined || verdictSeverity[r.verdict] > verdictSeverity[worstImage])
          images.set(r.digestKey, r.verdict);
        if (worst === undefined || verdictSeverity[r.verdict] > verdictSeverity[worst]) worst = r.verdict;
        if (r.current === 'Unknown' && r.reasons.some((x) => isUnknownReason(x) && x.startsWith('Registry')))
          registryTrouble++;
      }
      if (worst === undefined) continue;
      perPod.set(podKey, worst);
      lists.add(podKey, worst, results);
    }
    const { violations, unknown } = lists.finish();
    const count = (v: Verdict): number => [...perPod.values()].filter((x) => x === v).length;
    const tally = (m: ReadonlyMap<string, Verdict>): Partial<Record<Verdict, number>> => {
      const t: Partial<Record<Verdict, number>> = {};
      for (const v of m.values()) t[v] = (t[v] ?? 0) + 1;
      return t;
    };
    this.options.onCounts?.(policy.name, tally(perPod), tally(images));
    const ready = policy.ready
      ? condition('Ready', 'True', 'Valid', policy.warnings.map((w) => `${w.path}: ${w.message}`).join('; '))
      : condition(
          'Ready',
          'False',
          'Invalid',
          policy.problems.map((p) => `${p.path}: ${p.message}`).join('; '),
        );
    const evictions = this.options.evictions?.(policy);
    return {
      observedGeneration: policy.generation,
      conditions: [
        ready,
        condition('Synced', 'True', 'Evaluated', ''),
        registryTrouble > 0
          ? condition(
              'Degraded',
              'True',
              'RegistryErrors',
              `${String(registryTrouble)} verdicts undecided because a registry failed`,
            )
          : condition('Degraded', 'False', 'Healthy', ''),
        ...(evictions?.condition === undefined
          ? []
          : [
              condition(
                'EvictionsPaused',
                evictions.condition.status,
                evictions.condition.reason,
                evictions.condition.message,
              ),
            ]),
        ...(evictions?.loopCondition === undefined
          ? []
          : [
              condition(
                'EvictionLoop',
                evictions.loopCondition.status,
                evictions.loopCondition.reason,
                evictions.loopCondition.message,
              ),
            ]),
      ],
      summary: {
        pods: perPod.size,
        images: images.size,
        compliant: count('Compliant'),
        nonCompliant: count('NonCompliant'),
        unknown: count('Unknown'),
        exempt: count('Exempt'),
      },
      violations,
      unknown,
      evictions: evictions?.evictions ?? [],
      evictionsPaused: evictions?.evictionsPaused ?? null,
      evictionsConfirmed: evictions?.evictionsConfirmed ?? null,
    };
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeAll();
    }, this.options.debounceMs);
    this.timer.unref();
  }

  private async writeAll(only?: readonly CompiledPolicy[]): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    const run = async (): Promise<void> => {
      if (!this.options.mayWrite()) return;
      for (const policy of only ?? this.policies.values()) {
        const status = this.compute(policy);
        const before = this.written.get(policy.name);
        if (before !== undefined && JSON.stringify(before) === JSON.stringify(status)) continue;
        const path = `/apis/sigwatch.dev/v1alpha1/imagepolicies/${encodeURIComponent(policy.name)}/status?fieldManager=sigwatch`;
        try {
          const res = await this.options.kube.send({ method: 'PATCH', path, body: { status } });
          if (res.status >= 200 && res.status < 300) this.written.set(policy.name, status);
          else if (res.status !== 404)
            this.options.logger.warn('policy status write refused', {
              policy: policy.name,
              status: res.status,
            });
        } catch (error: unknown) {
          this.options.logger.warn('policy status write failed', {
            policy: policy.name,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    };
    this.writing = run().finally(() => {
      this.writing = undefined;
    });
    await this.writing;
  }
}
