/**
 * The operator's Prometheus metrics (design §5). The names are API: Grafana
 * dashboards and alerts depend on them. Kept on a private registry (never
 * prom-client's global one) so tests and several operators in one process
 * do not collide. Label values are closed sets (verdicts, reasons) or
 * bounded by the cluster's own objects (policies); the `registry` label is
 * the registry of the image being verified, never a host a registry's
 * response named (token realm, redirect target), and holds at most
 * {@link maxRegistryLabels} values, the rest folded into `other`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Verdict } from '../policy/verdict.js';

export type PodVerdict = Verdict | 'Unmatched';
const podVerdicts: readonly PodVerdict[] = ['Compliant', 'NonCompliant', 'Unknown', 'Exempt', 'Unmatched'];

/** Distinct `registry` label values; the registries seen after these are counted as `other`. */
export const maxRegistryLabels = 32;

/** The `registry` label value of registries beyond {@link maxRegistryLabels}. */
export const otherRegistryLabel = 'other';

export interface OperatorMetricsOptions {
  /** Defaults to {@link maxRegistryLabels}. */
  readonly maxRegistryLabels?: number;
}

type Labels = Partial<Record<string, string | number>>;

/**
 * A gauge only the leader exports: every replica may compute it, but a
 * follower's copy would be frozen at its last leading value and counted
 * twice by `sum by (policy)` after a failover. Values are held on every
 * replica and shown only while it leads, so a new leader exports at once
 * what it holds and a former one exports nothing.
 */
class LeaderGauge {
  private readonly held = new Map<string, { labels: Labels; value: number }>();
  private leading = false;

  constructor(private readonly gauge: Gauge) {}

  set(labels: Labels, value: number): void {
    this.held.set(JSON.stringify(labels), { labels, value });
    if (this.leading) this.gauge.set(labels, value);
  }

  remove(labels: Labels): void {
    this.held.delete(JSON.stringify(labels));
    this.gauge.remove(labels);
  }

  lead(leading: boolean): void {
    this.leading = leading;
    this.gauge.reset();
    if (leading) for (const { labels, value } of this.held.values()) this.gauge.set(labels, value);
  }
}

export class OperatorMetrics {
  readonly registry = new Registry();
  /** Registries with a label value of their own, first come first served (a label never changes meaning). */
  private readonly registryLabels = new Set<string>();
  private readonly maxRegistryLabels: number;
  private readonly verifications = new Counter({
    name: 'sigwatch_verifications_total',
    help: 'Evaluations of an image digest against a policy, by verdict and leading reason.',
    labelNames: ['policy', 'verdict', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly verificationDuration = new Histogram({
    name: 'sigwatch_verification_duration_seconds',
    help: 'Time to evaluate one digest against one policy from cached evidence.',
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  private readonly registryRequests = new Counter({
    name: 'sigwatch_registry_requests_total',
    help: 'Requests made for an image registry (token realm and redirect hops included), by that registry and HTTP status (0: no answer).',
    labelNames: ['registry', 'code'] as const,
    registers: [this.registry],
  });
  private readonly registryDuration = new Histogram({
    name: 'sigwatch_registry_request_duration_seconds',
    help: 'Duration of registry requests.',
    labelNames: ['registry'] as const,
    registers: [this.registry],
  });
  private readonly cacheHits = new Counter({
    name: 'sigwatch_evidence_cache_hits_total',
    help: 'Evidence lookups answered from the store.',
    registers: [this.registry],
  });
  private readonly cacheMisses = new Counter({
    name: 'sigwatch_evidence_cache_misses_total',
    help: 'Evidence lookups that needed a registry fetch.',
    registers: [this.registry],
  });
  private readonly podsGauge = new Gauge({
    name: 'sigwatch_pods',
    help: 'Pods by policy and verdict (the worst over their containers).',
    labelNames: ['policy', 'verdict'] as const,
    registers: [this.registry],
  });
  private readonly imagesGauge = new Gauge({
    name: 'sigwatch_images',
    help: 'Distinct running image digests by policy and verdict.',
    labelNames: ['policy', 'verdict'] as const,
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'sigwatch_evictions_total',
    help: 'Pods evicted, by policy and namespace.',
    labelNames: ['policy', 'namespace'] as const,
    registers: [this.registry],
  });
  private readonly evictionsPausedGauge = new Gauge({
    name: 'sigwatch_evictions_paused',
    help: '1 while the circuit breaker holds evictions for a policy.',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  /** Read at scrape time: the age grows between refreshes without anyone setting it. */
  private trustRootAgeSource: (() => number) | undefined;
  private readonly trustRootAge = new Gauge({
    name: 'sigwatch_trust_root_age_seconds',
    help: 'Seconds since the public-good trusted root was last refreshed over TUF (or since start-up, before the first refresh); absent with --trust-refresh off.',
    registers: [this.registry],
    collect: () => {
      if (this.trustRootAgeSource !== undefined) this.trustRootAge.set(this.trustRootAgeSource());
    },
  });
  private readonly exceptionExpiry = new Gauge({
    name: 'sigwatch_exception_expiry_timestamp_seconds',
    help: 'Earliest expiry of an unexpired exception of a policy (Unix time).',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  readonly auditRuns = new Counter({
    name: 'sigwatch_audit_runs_total',
    help: 'ImageAudit runs by result.',
    labelNames: ['namespace', 'audit', 'result'] as const,
    registers: [this.registry],
  });
  readonly auditLastSuccess = new Gauge({
    name: 'sigwatch_audit_last_success_timestamp_seconds',
    help: 'Completion time of the last successful run of an ImageAudit (Unix time).',
    labelNames: ['namespace', 'audit'] as const,
    registers: [this.registry],
  });
  private readonly auditComplianceGauge = new Gauge({
    name: 'sigwatch_audit_compliance_ratio',
    help: 'Share of compliant images in the last run of an ImageAudit (0..1).',
    labelNames: ['namespace', 'audit'] as const,
    registers: [this.registry],
  });
  private readonly pods = new LeaderGauge(this.podsGauge);
  private readonly images = new LeaderGauge(this.imagesGauge);
  /** 1 while the circuit breaker holds evictions for a policy (leader only). */
  readonly evictionsPaused = new LeaderGauge(this.evictionsPausedGauge);
  /** The last run's compliance per ImageAudit (leader only: the leader runs audits). */
  readonly auditCompliance = new LeaderGauge(this.auditComplianceGauge);
  /** `policy` is empty for a request no policy judged (admitted); `decision` is Allow, Warn or Deny. */
  private readonly admissionRequests = new Counter({
    name: 'sigwatch_admission_requests_total',
    help: 'Admission requests judged, by policy and what it decided (Allow, Warn, Deny); policy="" when none applied.',
    labelNames: ['policy', 'decision'] as const,
    registers: [this.registry],
  });
  private readonly admissionDuration = new Histogram({
    name: 'sigwatch_admission_duration_seconds',
    help: 'Time to answer an admission request, by operation (validate, mutate).',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  /** 0 until this replica serves a webhook certificate (no webhook: stays 0; the alert ignores 0). */
  private readonly webhookCertificateExpiry = new Gauge({
    name: 'sigwatch_webhook_certificate_expiry_timestamp_seconds',
    help: "When the admission webhook's serving certificate on this replica expires (Unix seconds); 0 without one.",
    registers: [this.registry],
  });
  private readonly leader = new Gauge({
    name: 'sigwatch_leader',
    help: '1 on the replica that holds the leader lease.',
    registers: [this.registry],
  });
  /** The part of `nodejs_external_memory_bytes` in Buffers and ArrayBuffers (the default metrics lack it). */
  private readonly arrayBuffers = new Gauge({
    name: 'sigwatch_array_buffers_bytes',
    help: 'Memory held by ArrayBuffers and Buffers, part of nodejs_external_memory_bytes.',
    registers: [this.registry],
    collect(): void {
      this.set(process.memoryUsage().arrayBuffers);
    },
  });

  constructor(options: OperatorMetricsOptions = {}) {
    this.maxRegistryLabels = options.maxRegistryLabels ?? maxRegistryLabels;
    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges `*_total`, which promtool's lint rejects (a `_total` suffix means
    // a counter to every Prometheus tool); they are dropped rather than exported misleadingly.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(name);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  recordVerification(policy: string, verdict: Verdict, reason: string, seconds: number): void {
    this.verifications.inc({ policy, verdict, reason });
    this.verificationDuration.observe(seconds);
  }

  /** One exchange made for the image registry `registry` (the one asked about, not a host a response named). */
  recordRegistryRequest(registry: string, code: number, seconds: number): void {
    const label = this.registryLabel(registry);
    this.registryRequests.inc({ registry: label, code: String(code) });
    this.registryDuration.observe({ registry: label }, seconds);
  }

  private registryLabel(registry: string): string {
    if (this.registryLabels.has(registry)) return registry;
    if (this.registryLabels.size >= this.maxRegistryLabels) return otherRegistryLabel;
    this.registryLabels.add(registry);
    return registry;
  }

  cacheHit(): void {
    this.cacheHits.inc();
  }

  cacheMiss(): void {
    this.cacheMisses.inc();
  }

  /** Replaces a policy's pod and image counts; verdicts not given are 0. */
  setCounts(
    policy: string,
    pods: Partial<Record<PodVerdict, number>>,
    images: Partial<Record<PodVerdict, number>>,
  ): void {
    for (const verdict of podVerdicts) {
      this.pods.set({ policy, verdict }, pods[verdict] ?? 0);
      this.images.set({ policy, verdict }, images[verdict] ?? 0);
    }
  }

  /** Pods that no policy selects (`sigwatch_pods{policy="",verdict="Unmatched"}`). */
  setUnmatched(pods: number): void {
    this.pods.set({ policy: '', verdict: 'Unmatched' }, pods);
  }

  setExceptionExpiry(policy: string, at: Date | undefined): void {
    if (at === undefined) this.exceptionExpiry.remove({ policy });
    else this.exceptionExpiry.set({ policy }, at.getTime() / 1000);
  }

  /** A deleted policy's series vanish instead of freezing at their last value. */
  removePolicy(policy: string): void {
    for (const verdict of podVerdicts) {
      this.pods.remove({ policy, verdict });
      this.images.remove({ policy, verdict });
    }
    this.exceptionExpiry.remove({ policy });
    this.evictionsPaused.remove({ policy });
    for (const decision of ['Allow', 'Warn', 'Deny']) this.admissionRequests.remove({ policy, decision });
  }

  /** One answered admission request: each applying policy's decision, and how long the answer took. */
  recordAdmission(
    operation: 'validate' | 'mutate',
    decisions: ReadonlyMap<string, 'Allow' | 'Warn' | 'Deny'>,
    seconds: number,
  ): void {
    this.admissionDuration.observe({ operation }, seconds);
    if (operation !== 'validate') return;
    if (decisions.size === 0) this.admissionRequests.inc({ policy: '', decision: 'Allow' });
    for (const [policy, decision] of decisions) this.admissionRequests.inc({ policy, decision });
  }

  setWebhookCertificateExpiry(at: Date): void {
    this.webhookCertificateExpiry.set(at.getTime() / 1000);
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
    for (const g of [this.pods, this.images, this.evictionsPaused, this.auditCompliance]) g.lead(leading);
  }

  /**
   * Where the trusted root's age comes from; undefined (`--trust-refresh off`)
   * removes the series: an air-gapped install's root is the admin's to keep,
   * and an age counted from start-up would only fire SigwatchTrustRootStale.
   */
  setTrustRootAge(source: (() => number) | undefined): void {
    this.trustRootAgeSource = source;
    if (source === undefined) this.registry.removeSingleMetric('sigwatch_trust_root_age_seconds');
  }
}
