/**
 * The operator's core loop (design §4): pods, namespaces, policies and
 * trust material come in from watches; every running digest is kept under
 * verification through the evidence store; the pure evaluator judges it
 * against every policy that selects the pod; reconcilers turn the verdicts
 * into pod labels and ImagePolicy status — idempotently, only on change,
 * and only while this replica holds the lease.
 *
 * Re-evaluation happens when anything it depends on changes (a pod, a
 * namespace's labels, a policy, a key or root, the evidence) and at each
 * verdict's `validUntil`, never on a timer of its own.
 *
 * Evictions (evictions/) ride on the same queue: each judged pod's clock
 * goes out with its labels, and after each pass over the queue the
 * eviction reconciler settles circuit breakers and decides.
 */
import { type CompiledPolicy, type PolicySource, type ReadyPolicy } from '../policy/compile.js';
import { PolicyEvaluator, policyMatches } from '../policy/evaluate.js';
import type { PolicyVerdict } from '../policy/verdict.js';
import type { TrustMaterial } from '../policy/trust-material.js';
import type { PackageRule } from '../sbom/query.js';
import type { Evidence } from '../registry/evidence-types.js';
import {
  evidenceKeyString,
  evidenceNeeds,
  type EvidenceKey,
  type EvidenceNeeds,
  type EvidenceStore,
} from './evidence/store.js';
import type { PersistedEvictions } from './evictions/state.js';
import { Evictions } from './evictions/reconciler.js';
import type { JudgedPod } from './evictions/options.js';
import { EventRecorder } from './verdicts/pod-events.js';
import type { ComponentHit } from './inventory/packages.js';
import { RunningPackages } from './inventory/running.js';
import type { KubeHttp } from './kube/client.js';
import type { Logger } from './kube/logger.js';
import type { OperatorMetrics } from './metrics.js';
import { OwnerLookup } from './evictions/owners.js';
import { NodeImages } from './evictions/node-images.js';
import { inScope, type TrimmedPod } from './pod.js';
import type { RelatedDigests } from './evidence/related-digests.js';
import type { RelatedVerdictSources } from './verdicts/related-verdicts.js';
import type { ReplacementLookups } from './evictions/replacement.js';
import { podMarks, VerdictMemory } from './verdicts/pod-label.js';
import { judgePod, type PodJudgeSources } from './verdicts/judge-pod.js';
import { writePodMarks } from './verdicts/marks-writer.js';
import { DigestUsers } from './evidence/digest-users.js';
import { WorkQueue } from './kube/work-queue.js';
import { policySelectsPod } from './verdicts/scope.js';
import { PolicySet } from './verdicts/policy-set.js';
import { VerdictCounters } from './verdicts/verdict-counters.js';
import { PolicyStatusWriter, type ContainerResult, type StoredStatus } from './verdicts/policy-status.js';

export interface ControllerOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly operatorNamespace: string;
  readonly now?: () => Date;
  /** Whether this replica may write now (leader with time to spare on its lease). */
  readonly mayWrite: () => boolean;
  /** Status writes are debounced by this much (default 1 s). */
  readonly statusDebounceMs?: number;
  readonly metrics?: OperatorMetrics;
  /** Asks the API server whether the lease is still ours; default: `mayWrite`. */
  readonly confirmLease?: () => Promise<boolean>;
  /** When a refused eviction, an unready owner or an unknown replacement is looked at again (default 30 s). */
  readonly evictionRetryMs?: number;
  /** Also read unsigned `.sbom` attachments, for the inventory only (one more request per digest and interval). */
  readonly unsignedSboms?: boolean;
  /**
   * Each pod's results after every judgement (`--policy-reports`); no pod: it is gone or out of scope.
   * `complete`: every digest it runs that a policy matched had evidence.
   */
  readonly onResults?: (
    key: string,
    pod: TrimmedPod | undefined,
    results: readonly ContainerResult[],
    complete: boolean,
  ) => void;
}

const podKey = (p: { namespace: string; name: string }): string => `${p.namespace}/${p.name}`;

export class Controller {
  private readonly pods = new Map<string, TrimmedPod>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();
  private readonly policies = new PolicySet();
  private readonly evaluator = new PolicyEvaluator();
  private readonly memory = new VerdictMemory();
  private readonly users = new DigestUsers();
  private readonly results = new Map<string, readonly ContainerResult[]>();
  private readonly queue: WorkQueue = new WorkQueue({
    process: (key) => this.reconcile(key),
    // The whole pass is judged: breakers see every transition before any pod is considered.
    afterPass: () => this.evictions.settle(this.policies.all),
    onError: (pod, error) => {
      const message = error instanceof Error ? error.message : String(error);
      if (pod === undefined) this.options.logger.error('eviction pass failed', { error: message });
      else this.options.logger.error('reconcile failed', { pod, error: message });
    },
  });
  private readonly packages = new RunningPackages({
    pods: this.pods,
    results: this.results,
    evidence: (digestKey) => this.store?.get(digestKey),
    signedSboms: (evidence) => {
      const now = this.now();
      return [
        ...new Set(
          this.policies
            .ready()
            .filter((p) => policyMatches(p, evidence.repository))
            .flatMap((p) => this.evaluator.signedSboms(evidence, p, now)),
        ),
      ];
    },
  });
  private store: EvidenceStore | undefined;
  private related: RelatedVerdictSources | undefined;
  readonly status: PolicyStatusWriter;
  private readonly events: EventRecorder;
  readonly evictions: Evictions;
  /** What nodes hold, read when a replacement is predicted (the pods that asked are re-judged on the answer). */
  private readonly nodeImages: NodeImages;

  private readonly counters: VerdictCounters;
  /** What judging a pod reads, built once (reconcile is the hot path); `related` is attached after construction. */
  private readonly judgeSources: PodJudgeSources;

  constructor(private readonly options: ControllerOptions) {
    this.counters = new VerdictCounters(options.metrics);
    const related = (): RelatedVerdictSources | undefined => this.related;
    this.judgeSources = {
      track: (evidenceKey, matching) => this.store?.track(evidenceKey, this.needsFor(matching)),
      evaluate: (evidence, policy, at) => this.evaluator.evaluate(evidence, policy, at),
      get related() {
        return related();
      },
      memory: this.memory,
      judgedOne: (id, v, started) => {
        this.counters.verified(id, v, started);
      },
      sharedId: (id) => this.users.canonical(id),
    };
    this.events = new EventRecorder({
      kube: options.kube,
      logger: options.logger,
      mayWrite: options.mayWrite,
      now: () => this.now(),
    });
    this.status = new PolicyStatusWriter({
      kube: options.kube,
      logger: options.logger,
      mayWrite: options.mayWrite,
      debounceMs: options.statusDebounceMs ?? 1000,
      now: () => this.now(),
      ...(options.metrics === undefined
        ? {}
        : {
            onCounts: (policy, pods, images) => {
              options.metrics?.setCounts(policy, pods, images);
            },
          }),
      evictions: (policy) => this.evictions.statusOf(policy),
    });
    this.nodeImages = new NodeImages({
      kube: options.kube,
      logger: options.logger,
      active: options.mayWrite,
      onResolved: (keys) => {
        this.requeue(keys);
      },
    });
    this.evictions = new Evictions({
      kube: options.kube,
      logger: options.logger,
      events: this.events,
      owners: new OwnerLookup(options.kube),
      operatorNamespace: options.operatorNamespace,
      now: () => this.now(),
      mayWrite: options.mayWrite,
      confirmLease: options.confirmLease ?? (() => Promise.resolve(options.mayWrite())),
      persist: (policy) => this.status.flushPolicy(policy),
      requeue: (key) => {
        this.enqueue(key);
      },
      judged: (key) => this.judged(key),
      // Every digest asked at once (no short-circuit): each stale one starts its fetch now. A result
      // judged from evidence the store has since replaced waits for the re-judgement that replacement queued.
      evidenceFresh: (results) =>
        results
          .map(
            (r) =>
              (this.store?.fresh(r.digestKey, 10_000) ?? false) &&
              this.store?.get(r.digestKey)?.fetchedAt.getTime() === r.evidenceAt,
          )
          .every(Boolean),
      lookups: (key, policy) => this.replacementLookups(key, policy),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.evictionRetryMs === undefined ? {} : { retryMs: options.evictionRetryMs }),
    });
  }

  /** The store is created with a callback into the controller, so it is attached after construction. */
  attachStore(store: EvidenceStore): void {
    this.store = store;
  }

  /** Without it, `match.signatureOn` is not applied: every digest is judged by its own evidence. */
  attachRelated(related: RelatedDigests): void {
    this.related = {
      related,
      track: (key, policy) => this.store?.track(key, this.needsFor([policy])),
      evaluate: (evidence, policy, now) => this.evaluator.evaluate(evidence, policy, now),
    };
  }

  /** Re-judges these pods (related digests they waited for were resolved). */
  /** Whether the pod `key` is still watched (RelatedDigests keeps re-reading a tag for as long as one is). */
  hasPod(key: string): boolean {
    return this.pods.has(key);
  }

  requeue(keys: Iterable<string>): void {
    for (const key of keys) this.enqueue(key);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  upsertPod(pod: TrimmedPod): void {
    this.pods.set(podKey(pod), pod);
    this.enqueue(podKey(pod));
  }

  deletePod(key: string): void {
    this.pods.delete(key);
    this.enqueue(key);
  }

  setNamespace(name: string, labels: Readonly<Record<string, string>> | undefined): void {
    if (labels === undefined) this.namespaces.delete(name);
    else this.namespaces.set(name, labels);
    for (const [key, pod] of this.pods) if (pod.namespace === name) this.enqueue(key);
  }

  /** A policy from the watch, with the eviction state its status holds (our own writes come back here too). */
  upsertPolicy(
    source: PolicySource,
    persisted?: PersistedEvictions,
    labels: Readonly<Record<string, string>> = {},
    stored?: StoredStatus,
  ): void {
    if (stored !== undefined) this.status.observeStored(source.name, stored);
    const confirmationChanged =
      persisted !== undefined && this.evictions.policyObserved(source.name, persisted);
    // A status write or an annotation changes no spec: no reason to re-judge every pod.
    if (!this.policies.upsert(source, labels)) {
      // A new confirmation may have lifted a circuit breaker: let the pods waiting on it be considered.
      if (confirmationChanged) this.resyncPolicy(source.name);
      return;
    }
    this.recompile();
  }

  deletePolicy(name: string): void {
    this.evictions.forgetPolicy(name);
    this.policies.delete(name);
    this.memory.forgetPolicy(name);
    this.options.metrics?.removePolicy(name);
    this.status.forget(name);
    this.recompile();
  }

  setTrust(trust: TrustMaterial): void {
    this.policies.setTrust(trust);
    this.recompile();
  }

  /** New evidence for a digest: re-judge the pods that run it. */
  evidenceChanged(id: string): void {
    for (const key of this.users.podsOf(id)) this.enqueue(key);
  }

  /**
   * Re-judges every pod and rewrites what differs: after becoming leader,
   * since a follower computes verdicts but writes nothing.
   */
  resync(): void {
    this.evictions.resetMemory();
    this.status.clear();
    this.events.reset();
    for (const key of this.pods.keys()) this.enqueue(key);
    this.status.setPolicies(this.policies.all);
  }

  /**
   * Running containers whose digests' signed SBOMs list the rule's package
   * (inventory/), from the pods, evidence and verification results held now.
   */
  containersWithPackage(rule: PackageRule, namespaces?: ReadonlySet<string>): ComponentHit[] {
    return this.packages.find(rule, namespaces);
  }

  /** Pods as last watched, by `namespace/name` (views.ts: audits and the aggregated API read them). */
  get currentPods(): ReadonlyMap<string, TrimmedPod> {
    return this.pods;
  }

  /** Each pod's latest results, by pod key. */
  get currentResults(): ReadonlyMap<string, readonly ContainerResult[]> {
    return this.results;
  }

  /** A namespace's labels as last watched; undefined when not (yet) seen. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(name);
  }

  /** A policy's labels, for ImageAudits' policySelector. */
  policyLabels(name: string): Readonly<Record<string, string>> {
    return this.policies.labelsOf(name);
  }

  /** One policy's verdict by the controller's evaluator: admission shares its memo of judged digests. */
  evaluate(evidence: Evidence, policy: ReadyPolicy, now: Date): PolicyVerdict {
    return this.evaluator.evaluate(evidence, policy, now);
  }

  compiledPolicies(): readonly CompiledPolicy[] {
    return this.policies.all;
  }

  /** Waits until every queued pod has been reconciled (tests, readiness). */
  async idle(): Promise<void> {
    await this.queue.idle();
  }

  stop(): void {
    this.queue.stop();
    this.status.stop();
    this.evictions.stop();
    this.nodeImages.stop();
  }

  /** Re-judges the pods with results under `policy`. */
  private resyncPolicy(policy: string): void {
    for (const [key, results] of this.results)
      if (results.some((r) => r.policy === policy)) this.enqueue(key);
  }

  private selectingPolicies(pod: TrimmedPod): ReadyPolicy[] {
    const context = {
      operatorNamespace: this.options.operatorNamespace,
      namespaceLabels: this.namespaces.get(pod.namespace),
    };
    return this.policies.ready().filter((p) => policySelectsPod(p, pod, context));
  }

  private judged(key: string): JudgedPod | undefined {
    const pod = this.pods.get(key);
    const results = this.results.get(key);
    if (pod === undefined || results === undefined) return undefined;
    return { pod, results, policies: this.selectingPolicies(pod) };
  }

  /** Registry answers and verdicts for predicting `key`'s replacement; digests it judges stay tracked with the pod. */
  private replacementLookups(key: string, policy: ReadyPolicy): ReplacementLookups {
    const related = this.related?.related;
    return {
      platformsOf: (repo, digest) => related?.platformsOf(repo, digest, key) ?? 'failed',
      tagTarget: (repo, tag) => related?.tagTarget(repo, tag, key) ?? 'failed',
      tagDueAt: (repo, tag) => related?.tagDueAt(repo, tag),
      nodeImages: (node) => this.nodeImages.imagesOf(node, key),
      nodeDueAt: (node) => this.nodeImages.dueAt(node),
      verdictOf: (repo, digest) => {
        const evidenceKey: EvidenceKey = { ...repo, digest };
        const id = evidenceKeyString(evidenceKey);
        this.evictions.keep(key, id);
        // Tracked with the pod's own digests: evidence arriving re-queues the pod, leaving releases it.
        this.track(key, new Set([...this.users.digestsOf(key), id]));
        const evidence = this.store?.track(evidenceKey, this.needsFor([policy]));
        return evidence === undefined
          ? undefined
          : this.evaluator.evaluate(evidence, policy, this.now()).verdict;
      },
    };
  }

  private recompile(): void {
    if (!this.policies.recompile()) return;
    const now = this.now().getTime();
    for (const p of this.policies.all) {
      if (!p.ready) this.options.logger.warn('policy not ready', { policy: p.name, problems: p.problems });
      // The soonest expiry still ahead, for "an exception ends soon" alerts.
      const ahead = p.ready ? p.exceptions.map((e) => e.expires.getTime()).filter((t) => t > now) : [];
      this.options.metrics?.setExceptionExpiry(
        p.name,
        ahead.length === 0 ? undefined : new Date(Math.min(...ahead)),
      );
    }
    this.status.setPolicies(this.policies.all);
    for (const key of this.pods.keys()) this.enqueue(key);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
  }

  private needsFor(policies: readonly ReadyPolicy[]): EvidenceNeeds {
    return evidenceNeeds(policies, this.options.unsignedSboms === true);
  }

  private track(key: string, ids: Set<string>): void {
    for (const id of this.users.set(key, ids)) {
      this.store?.release(id);
      this.memory.forgetDigest(id);
      this.counters.forgetDigest(id);
    }
  }

  private async reconcile(key: string): Promise<void> {
    this.queue.cancelWake(key);
    const pod = this.pods.get(key);
    if (pod === undefined || !inScope(pod)) {
      this.evictions.forgetPod(key);
      this.track(key, new Set());
      this.results.delete(key);
      this.counters.setUnmatched(key, false);
      this.status.setPodResults(key, []);
      this.options.onResults?.(key, undefined, [], true);
      return;
    }
    const now = this.now();
    const selecting = this.selectingPolicies(pod);
    const ids = new Set<string>(this.evictions.extraIds(key));
    const { results, judgements, validUntil, complete, reported } = judgePod(
      key,
      pod,
      selecting,
      ids,
      now,
      this.judgeSources,
    );
    this.track(key, ids);
    this.results.set(key, results);
    this.counters.setUnmatched(key, reported && ids.size === 0);
    // Judged at `now`: each violation's `since`, never after the Event this judgement writes below.
    this.status.setPodResults(key, results, now);
    this.options.onResults?.(key, pod, results, complete);
    if (validUntil !== undefined) this.queue.wakeAt(key, validUntil, now);
    // Until every matched digest has evidence, a partial label could be wrong in either direction.
    if (!complete) return;
    const clock = this.evictions.observe({ pod, results, policies: selecting });
    await writePodMarks(this.options, pod, podMarks(judgements), clock);
    for (const r of results) {
      // Fresh, definite violations of running containers only: an outage or a stale verdict is no news.
      if (!r.actionable || r.current !== 'NonCompliant') continue;
      await this.events.violation(pod, { ...r, reason: r.reasons[0] ?? 'NonCompliant' });
    }
  }
}
