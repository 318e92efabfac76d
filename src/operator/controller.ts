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
 * Evictions (evictions.ts) ride on the same queue: each judged pod's clock
 * goes out with its labels, and after each pass over the queue the
 * eviction reconciler settles circuit breakers and decides.
 */
import {
  compilePolicy,
  type CompiledPolicy,
  type PolicySource,
  type ReadyPolicy,
} from '../policy/compile.js';
import { PolicyEvaluator, policyMatches } from '../policy/evaluate.js';
import type { PolicyVerdict } from '../policy/verdict.js';
import type { TrustMaterial } from '../policy/trust-material.js';
import type { PackageRule } from '../sbom/query.js';
import type { NormalisedSbom } from '../sbom/model.js';
import { parseSbomText } from '../sbom/parse.js';
import type { AttachedSbom, Evidence } from '../registry/evidence-types.js';
import {
  evidenceKeyString,
  evidenceNeeds,
  type EvidenceKey,
  type EvidenceNeeds,
  type EvidenceStore,
} from './evidence/store.js';
import type { PersistedEvictions } from './evictions/state.js';
import { Evictions, type JudgedPod } from './evictions/reconciler.js';
import { EventRecorder } from './verdicts/pod-events.js';
import { containersWithPackage, type ComponentHit, type RunningContainer } from './inventory/packages.js';
import type { AuditWorld } from './audits/run.js';
import type { VerdictSource } from './api/server.js';
import { imagesView } from './inventory/views.js';
import type { KubeHttp } from './kube/client.js';
import type { Logger } from './kube/logger.js';
import type { OperatorMetrics } from './metrics.js';
import { OwnerLookup } from './evictions/owners.js';
import { actionable, imageName, inScope, reportedImage, type TrimmedPod } from './pod.js';
import type { RelatedDigests } from './evidence/related-digests.js';
import { verdictBySignatureOn, type RelatedVerdictSources } from './verdicts/related-verdicts.js';
import type { ReplacementLookups } from './evictions/replacement.js';
import { marksPatch, podMarks, VerdictMemory, type Judgement } from './verdicts/pod-label.js';
import { policySelectsPod } from './verdicts/scope.js';
import { PolicyStatusWriter, type ContainerResult } from './verdicts/policy-status.js';

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

/** Longest a timer is set for; Node's setTimeout overflows beyond 2^31-1 ms. */
const maxTimerMs = 2 ** 31 - 1;

export class Controller {
  private readonly pods = new Map<string, TrimmedPod>();
  private readonly namespaces = new Map<string, Readonly<Record<string, string>>>();
  private readonly sources = new Map<string, PolicySource>();
  /** Policies' labels, for ImageAudits' policySelector. */
  private readonly policyLabels = new Map<string, Readonly<Record<string, string>>>();
  private policies: CompiledPolicy[] = [];
  private trust: TrustMaterial | undefined;
  private readonly evaluator = new PolicyEvaluator();
  private readonly memory = new VerdictMemory();
  private readonly podDigests = new Map<string, Set<string>>();
  private readonly digestPods = new Map<string, Set<string>>();
  private readonly results = new Map<string, readonly ContainerResult[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly counted = new Map<string, PolicyVerdict>();
  /** In-scope pods no policy selects, for `sigwatch_pods{verdict="Unmatched"}`. */
  private readonly unmatched = new Set<string>();
  private readonly dirty = new Set<string>();
  /** Held weakly: an attachment's parse lives as long as the evidence that holds it. */
  private readonly parsedAttachments = new WeakMap<AttachedSbom, NormalisedSbom | null>();
  private draining: Promise<void> | undefined;
  private store: EvidenceStore | undefined;
  private related: RelatedVerdictSources | undefined;
  readonly status: PolicyStatusWriter;
  private readonly events: EventRecorder;
  readonly evictions: Evictions;
  private stopped = false;

  constructor(private readonly options: ControllerOptions) {
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
  ): void {
    this.policyLabels.set(source.name, labels);
    const confirmationChanged =
      persisted !== undefined && this.evictions.policyObserved(source.name, persisted);
    const before = this.sources.get(source.name);
    this.sources.set(source.name, source);
    // A status write or an annotation changes neither: no reason to re-judge every pod.
    const unchanged =
      before?.generation === source.generation && JSON.stringify(before.spec) === JSON.stringify(source.spec);
    if (unchanged) {
      // A new confirmation may have lifted a circuit breaker: let the pods waiting on it be considered.
      if (confirmationChanged) this.resyncPolicy(source.name);
      return;
    }
    this.recompile();
  }

  deletePolicy(name: string): void {
    this.policyLabels.delete(name);
    this.evictions.forgetPolicy(name);
    this.sources.delete(name);
    this.memory.forgetPolicy(name);
    this.options.metrics?.removePolicy(name);
    this.status.forget(name);
    this.recompile();
  }

  setTrust(trust: TrustMaterial): void {
    this.trust = trust;
    this.recompile();
  }

  /** New evidence for a digest: re-judge the pods that run it. */
  evidenceChanged(id: string): void {
    for (const key of this.digestPods.get(id) ?? []) this.enqueue(key);
  }

  /**
   * Re-judges every pod and rewrites what differs: after becoming leader,
   * since a follower computes verdicts but writes nothing.
   */
  resync(): void {
    this.evictions.resetMemory();
    for (const key of this.pods.keys()) this.enqueue(key);
    this.status.setPolicies(this.policies);
  }

  /**
   * Running containers whose digests' signed SBOMs list the rule's package
   * (inventory.ts), from the pods, evidence and verification results held now.
   */
  containersWithPackage(rule: PackageRule, namespaces?: ReadonlySet<string>): ComponentHit[] {
    const running: RunningContainer[] = [];
    for (const [key, results] of this.results) {
      const pod = this.pods.get(key);
      if (pod === undefined || (namespaces !== undefined && !namespaces.has(pod.namespace))) continue;
      const seen = new Set<string>();
      for (const r of results) {
        const id = `${r.container}\u0000${r.digestKey}`;
        if (seen.has(id)) continue;
        seen.add(id);
        running.push({
          namespace: pod.namespace,
          pod: pod.name,
          container: r.container,
          image: r.image,
          digestKey: r.digestKey,
        });
      }
    }
    const now = this.now();
    const ready = this.policies.filter((p): p is ReadyPolicy => p.ready);
    return containersWithPackage(
      rule,
      running,
      (digestKey) => {
        const evidence = this.store?.get(digestKey);
        if (evidence === undefined) return [];
        const sboms = ready
          .filter((p) => policyMatches(p, evidence.repository))
          .flatMap((p) => this.evaluator.signedSboms(evidence, p, now));
        return [...new Set(sboms)];
      },
      (digestKey) => (this.store?.get(digestKey)?.sboms ?? []).flatMap((a) => this.unsignedSbom(a)),
    );
  }

  /** An attachment's SBOM, parsed once per fetched attachment; one that does not parse adds nothing. */
  private unsignedSbom(attached: AttachedSbom): NormalisedSbom[] {
    let parsed = this.parsedAttachments.get(attached);
    if (parsed === undefined) {
      try {
        parsed = parseSbomText(new TextDecoder().decode(attached.body));
      } catch {
        parsed = null;
      }
      this.parsedAttachments.set(attached, parsed);
    }
    return parsed === null ? [] : [parsed];
  }

  /** What an audit run reads: the pods, namespace labels and compiled policies held now. */
  auditWorld(): AuditWorld & { readonly policyLabels: (name: string) => Readonly<Record<string, string>> } {
    return {
      pods: [...this.pods.values()],
      namespaceLabels: (name) => this.namespaces.get(name),
      policies: this.policies,
      operatorNamespace: this.options.operatorNamespace,
      policyLabels: (name) => this.policyLabels.get(name) ?? {},
    };
  }

  /** What the aggregated API answers from: this replica's pods, results and evidence, as they are now. */
  verdictSource(): VerdictSource {
    const withResults = (pod: TrimmedPod): { pod: TrimmedPod; results: readonly ContainerResult[] } => ({
      pod,
      results: this.results.get(podKey(pod)) ?? [],
    });
    return {
      pods: (namespace) =>
        [...this.pods.values()]
          .filter((p) => namespace === undefined || p.namespace === namespace)
          .map(withResults),
      pod: (namespace, name) => {
        const pod = this.pods.get(podKey({ namespace, name }));
        return pod === undefined ? undefined : withResults(pod);
      },
      images: () => imagesView(this.pods, this.results).images,
      packageHits: (rule, namespaces) =>
        this.containersWithPackage(rule, namespaces).filter((h) => h.inRange !== false),
    };
  }

  /** A namespace's labels as last watched; undefined when not (yet) seen. */
  namespaceLabels(name: string): Readonly<Record<string, string>> | undefined {
    return this.namespaces.get(name);
  }

  /** One policy's verdict by the controller's evaluator: admission shares its memo of judged digests. */
  evaluate(evidence: Evidence, policy: ReadyPolicy, now: Date): PolicyVerdict {
    return this.evaluator.evaluate(evidence, policy, now);
  }

  compiledPolicies(): readonly CompiledPolicy[] {
    return this.policies;
  }

  /** Waits until every queued pod has been reconciled (tests, readiness). */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.status.stop();
    this.evictions.stop();
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
    return this.policies.filter((p): p is ReadyPolicy => p.ready && policySelectsPod(p, pod, context));
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
      verdictOf: (repo, digest) => {
        const evidenceKey: EvidenceKey = { ...repo, digest };
        const id = evidenceKeyString(evidenceKey);
        this.evictions.keep(key, id);
        // Tracked with the pod's own digests: evidence arriving re-queues the pod, leaving releases it.
        this.track(key, new Set([...(this.podDigests.get(key) ?? []), id]));
        const evidence = this.store?.track(evidenceKey, this.needsFor([policy]));
        return evidence === undefined
          ? undefined
          : this.evaluator.evaluate(evidence, policy, this.now()).verdict;
      },
    };
  }

  private recompile(): void {
    const trust = this.trust;
    if (trust === undefined) return;
    this.policies = [...this.sources.values()].map((s) => compilePolicy(s, trust));
    const now = this.now().getTime();
    for (const p of this.policies) {
      if (!p.ready) this.options.logger.warn('policy not ready', { policy: p.name, problems: p.problems });
      // The soonest expiry still ahead, for "an exception ends soon" alerts.
      const ahead = p.ready ? p.exceptions.map((e) => e.expires.getTime()).filter((t) => t > now) : [];
      this.options.metrics?.setExceptionExpiry(
        p.name,
        ahead.length === 0 ? undefined : new Date(Math.min(...ahead)),
      );
    }
    this.status.setPolicies(this.policies);
    for (const key of this.pods.keys()) this.enqueue(key);
  }

  private enqueue(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    // Let a burst of watch events coalesce before judging.
    await new Promise((r) => setImmediate(r));
    for (;;) {
      while (this.dirty.size > 0 && !this.stopped) {
        const keys = [...this.dirty];
        this.dirty.clear();
        for (const key of keys) {
          try {
            await this.reconcile(key);
          } catch (error: unknown) {
            this.options.logger.error('reconcile failed', {
              pod: key,
              error: error instanceof Error ? error.message : String(error),
            });
          }
        }
      }
      // The whole pass is judged: breakers see every transition before any pod is considered.
      try {
        await this.evictions.settle(this.policies);
      } catch (error: unknown) {
        this.options.logger.error('eviction pass failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      }
      if (this.dirty.size === 0 || this.stopped) return;
    }
  }

  private needsFor(policies: readonly ReadyPolicy[]): EvidenceNeeds {
    return evidenceNeeds(policies, this.options.unsignedSboms === true);
  }

  private track(key: string, ids: Set<string>): void {
    const before = this.podDigests.get(key) ?? new Set<string>();
    for (const id of before) {
      if (ids.has(id)) continue;
      const users = this.digestPods.get(id);
      users?.delete(key);
      if (users?.size === 0) {
        this.digestPods.delete(id);
        this.store?.release(id);
        this.memory.forgetDigest(id);
        for (const k of this.counted.keys()) if (k.startsWith(`${id}|`)) this.counted.delete(k);
      }
    }
    for (const id of ids) {
      let users = this.digestPods.get(id);
      if (users === undefined) {
        users = new Set();
        this.digestPods.set(id, users);
      }
      users.add(key);
    }
    if (ids.size === 0) this.podDigests.delete(key);
    else this.podDigests.set(key, ids);
  }

  private async reconcile(key: string): Promise<void> {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const pod = this.pods.get(key);
    if (pod === undefined || !inScope(pod)) {
      this.evictions.forgetPod(key);
      this.track(key, new Set());
      this.results.delete(key);
      this.setUnmatched(key, false);
      this.status.setPodResults(key, []);
      this.options.onResults?.(key, undefined, [], true);
      return;
    }
    const now = this.now();
    const selecting = this.selectingPolicies(pod);
    const ids = new Set<string>(this.evictions.extraIds(key));
    const judgements: Judgement[] = [];
    const results: ContainerResult[] = [];
    let validUntil: Date | undefined;
    let complete = true;
    /** Some container has a digest the node reported (pods still Pending are not "unmatched"). */
    let reported = false;
    for (const c of pod.containers) {
      const img = reportedImage(c);
      if (img.kind !== 'digest') continue;
      reported = true;
      const matching = selecting.filter((p) => policyMatches(p, imageName(img)));
      if (matching.length === 0) continue;
      const evidenceKey: EvidenceKey = {
        registry: img.registry,
        repository: img.repository,
        digest: img.digest,
      };
      const id = evidenceKeyString(evidenceKey);
      ids.add(id);
      const evidence = this.store?.track(evidenceKey, this.needsFor(matching));
      if (evidence === undefined) {
        complete = false; // judged when the first fetch lands (evidenceChanged)
        continue;
      }
      const act = actionable(pod, c);
      for (const p of matching) {
        const started = performance.now();
        const own = this.evaluator.evaluate(evidence, p, now);
        const v =
          this.related === undefined
            ? own
            : verdictBySignatureOn(this.related, {
                key,
                container: c,
                image: evidenceKey,
                evidence,
                policy: p,
                own,
                ids,
                now,
              });
        if (v === undefined) {
          complete = false; // related digests still being fetched; their arrival re-queues the pod
          continue;
        }
        this.countVerification(`${id}|${p.name}`, v, started);
        const effective = this.memory.effective(id, p.name, v.verdict);
        if (v.validUntil !== undefined && (validUntil === undefined || v.validUntil < validUntil))
          validUntil = v.validUntil;
        results.push({
          policy: p.name,
          container: c.name,
          image: c.image,
          digest: img.digest,
          digestKey: id,
          verdict: effective.verdict,
          current: v.verdict,
          stale: effective.stale,
          reasons: v.reasons,
          message: v.findings[0]?.message ?? '',
          actionable: act,
          ...(v.validUntil === undefined ? {} : { validUntil: v.validUntil.getTime() }),
          evidenceAt: evidence.fetchedAt.getTime(),
        });
        if (act && p.spec.mode === 'Enforce' && p.spec.actions.label) {
          judgements.push({
            policy: p.name,
            verdict: effective.verdict,
            stale: effective.stale,
            reasons: v.reasons,
          });
        }
      }
    }
    this.track(key, ids);
    this.results.set(key, results);
    this.setUnmatched(key, reported && ids.size === 0);
    this.status.setPodResults(key, results);
    this.options.onResults?.(key, pod, results, complete);
    if (validUntil !== undefined) this.wakeAt(key, validUntil, now);
    // Until every matched digest has evidence, a partial label could be wrong in either direction.
    if (!complete) return;
    const clock = this.evictions.observe({ pod, results, policies: selecting });
    await this.writeMarks(pod, podMarks(judgements), clock);
    for (const r of results) {
      // Fresh, definite violations of running containers only: an outage or a stale verdict is no news.
      if (!r.actionable || r.current !== 'NonCompliant') continue;
      await this.events.violation(pod, { ...r, reason: r.reasons[0] ?? 'NonCompliant' });
    }
  }

  private setUnmatched(key: string, unmatched: boolean): void {
    if (unmatched === this.unmatched.has(key)) return;
    if (unmatched) this.unmatched.add(key);
    else this.unmatched.delete(key);
    this.options.metrics?.setUnmatched(this.unmatched.size);
  }

  /** Counts an evaluation once per fresh result (memoised answers are not new verifications). */
  private countVerification(id: string, v: PolicyVerdict, started: number): void {
    if (this.counted.get(id) === v) return;
    this.counted.set(id, v);
    this.options.metrics?.recordVerification(
      v.policy,
      v.verdict,
      v.reasons[0] ?? '',
      (performance.now() - started) / 1000,
    );
  }

  private wakeAt(key: string, at: Date, now: Date): void {
    const delay = Math.min(maxTimerMs, Math.max(0, at.getTime() - now.getTime()) + 5);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.enqueue(key);
    }, delay);
    timer.unref();
    this.timers.set(key, timer);
  }

  private async writeMarks(
    pod: TrimmedPod,
    marks: ReturnType<typeof podMarks>,
    clock: Record<string, string | null> | undefined,
  ): Promise<void> {
    const labels = marksPatch(pod, marks);
    const patch =
      clock === undefined
        ? labels
        : { metadata: { ...labels?.metadata, annotations: { ...labels?.metadata.annotations, ...clock } } };
    if (patch === undefined || !this.options.mayWrite()) return;
    const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}?fieldManager=sigwatch`;
    const res = await this.options.kube.send({ method: 'PATCH', path, body: patch });
    if (res.status === 404) return; // gone meanwhile
    if (res.status < 200 || res.status > 299) {
      this.options.logger.warn('pod label write refused', { pod: podKey(pod), status: res.status });
      return;
    }
    this.options.logger.info('pod marks written', { pod: podKey(pod), label: marks.label ?? null });
  }
}
