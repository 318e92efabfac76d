/**
 * `ImagePolicy.status` (design §2): observedGeneration, the conditions
 * Ready / Synced / Degraded in the standard shape, summary counts and the
 * 50 most recent violations. Debounced, written only when it changed, only
 * through the status subresource (the spec is never written, so GitOps tools
 * see no drift), and only by the leader.
 */
import type { Reason } from '../../base/reasons.js';
import { isUnknownReason } from '../../base/reasons.js';
import type { CompiledPolicy } from '../../policy/compile.js';
import { verdictSeverity, type Verdict } from '../../policy/verdict.js';
import type { BreakerConfirmation, BreakerTrip, EvictionRecord } from './eviction-status.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import { asArray, asObject, asString } from '../../base/json.js';

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
  readonly reasons: readonly Reason[];
  readonly message: string;
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
  violations: {
    namespace: string;
    pod: string;
    container: string;
    image: string;
    digest: string;
    reason: string;
    message: string;
    since: string;
  }[];
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

const maxViolations = 50;
const maxMessage = 1024;
const maxStoredConditions = 16;

/**
 * What a stored status says that must outlive the replica that wrote it:
 * when each condition last changed and when each listed violation began.
 * Read back from the policy watch, so a restart or a new leader keeps them
 * instead of stamping every condition and violation with "now".
 */
export interface StoredStatus {
  readonly conditions: ReadonlyMap<string, { readonly status: string; readonly lastTransitionTime: string }>;
  /** By `namespace/pod|container|digest`. */
  readonly violationSince: ReadonlyMap<string, string>;
}

const violationId = (podKey: string, container: string, digest: string): string =>
  `${podKey}|${container}|${digest}`;
const isTime = (v: string | undefined): v is string => v !== undefined && Number.isFinite(Date.parse(v));

/** Reads `status.conditions` and `status.violations` of a watched ImagePolicy; anything malformed is skipped. */
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
  const violationSince = new Map<string, string>();
  for (const v of asArray(status?.['violations']).slice(0, maxViolations)) {
    const o = asObject(v);
    const [namespace, pod, container, digest, since] = [
      'namespace',
      'pod',
      'container',
      'digest',
      'since',
    ].map((k) => asString(o?.[k]));
    if (namespace === undefined || pod === undefined || container === undefined || digest === undefined)
      continue;
    if (isTime(since)) violationSince.set(violationId(`${namespace}/${pod}`, container, digest), since);
  }
  return { conditions, violationSince };
}

export class PolicyStatusWriter {
  private policies = new Map<string, CompiledPolicy>();
  private readonly podResults = new Map<string, readonly ContainerResult[]>();
  private readonly written = new Map<string, PolicyStatus>();
  /** Per policy, when each current violation began; rebuilt on every computation, so it holds no departed pod. */
  private readonly violationSince = new Map<string, ReadonlyMap<string, string>>();
  private readonly stored = new Map<string, StoredStatus>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: PolicyStatusOptions) {}

  setPolicies(policies: readonly CompiledPolicy[]): void {
    this.policies = new Map(policies.map((p) => [p.name, p]));
    this.schedule();
  }

  setPodResults(podKey: string, results: readonly ContainerResult[]): void {
    if (results.length === 0) this.podResults.delete(podKey);
    else this.podResults.set(podKey, results);
    this.schedule();
  }

  /**
   * Forgets what this replica wrote in an earlier term (after gaining the
   * lease): the stored status, written by whoever led meanwhile, is the truth.
   */
  clear(): void {
    this.written.clear();
    this.violationSince.clear();
  }

  /** The policy's status as stored (the watch delivers ours and a former leader's writes). */
  observeStored(policy: string, stored: StoredStatus): void {
    this.stored.set(policy, stored);
  }

  forget(policy: string): void {
    this.written.delete(policy);
    this.stored.delete(policy);
    this.violationSince.delete(policy);
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
    const perPod = new Map<string, Verdict>();
    const images = new Map<string, Verdict>();
    const violations: PolicyStatus['violations'] = [];
    let registryTrouble = 0;
    const sinceBefore = this.violationSince.get(policy.name);
    const violationSince = new Map<string, string>();
    for (const [podKey, results] of this.podResults) {
      for (const r of results) {
        if (r.policy !== policy.name) continue;
        const worstImage = images.get(r.digestKey);
        if (worstImage === undefined || verdictSeverity[r.verdict] > verdictSeverity[worstImage])
          images.set(r.digestKey, r.verdict);
        const worst = perPod.get(podKey);
        if (worst === undefined || verdictSeverity[r.verdict] > verdictSeverity[worst])
          perPod.set(podKey, r.verdict);
        if (r.current === 'Unknown' && r.reasons.some((x) => isUnknownReason(x) && x.startsWith('Registry')))
          registryTrouble++;
        if (r.verdict !== 'NonCompliant') continue;
        const [namespace = '', pod = ''] = podKey.split('/');
        const id = violationId(podKey, r.container, r.digest);
        const since = sinceBefore?.get(id) ?? past(stored?.violationSince.get(id)) ?? now;
        violationSince.set(id, since);
        violations.push({
          namespace,
          pod,
          container: r.container,
          image: r.image,
          digest: r.digest,
          reason: r.reasons[0] ?? 'Unknown',
          message: r.message.slice(0, maxMessage),
          since,
        });
      }
    }
    this.violationSince.set(policy.name, violationSince);
    violations.sort((a, b) => (a.since < b.since ? 1 : a.since > b.since ? -1 : 0));
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
      violations: violations.slice(0, maxViolations),
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
