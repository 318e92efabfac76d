/**
 * `sigwatch run --policy-reports`: keeps one `wgpolicyk8s.io/v1alpha2`
 * PolicyReport per namespace (policy-report.ts builds it) in step with the
 * controller's verdicts. Leader only; off by default.
 *
 * Trade-offs, in the order they bite at 10,000 pods:
 * - writes follow changes, not events: the controller reports every judged
 *   pod here; a namespace it touches is rebuilt after a debounce (counted
 *   from its first change, so churn cannot postpone it for ever) and written
 *   only if its content differs from what was last written or read back;
 * - one flush at a time, so at most one write per namespace is in flight, a
 *   few namespaces written side by side; every call has a deadline and is
 *   aborted by `stop()`; a failure is logged and the namespace retried with
 *   its own backoff (a foreign object named `sigwatch` stalls only its own
 *   namespace), never thrown into the operator;
 * - a namespace whose pods' first judgement is still incomplete (evidence not
 *   fetched yet, as after a leader change) is held back up to `pendingMaxMs`,
 *   so consumers such as Policy Reporter, which notify on new results, do not
 *   see results vanish and reappear;
 * - after becoming leader the existing reports are listed once: unchanged
 *   ones are not rewritten (their first-seen times are read back), reports of
 *   namespaces without judged pods are deleted.
 *
 * Writes use get/list/create/update/delete only (config/policy-reports).
 */
import pLimit from 'p-limit';
import { KubeError, type KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import { PolicyReportApi, type StoredReport } from './api.js';
import {
  buildPolicyReport,
  defaultReportLimits,
  reportContent,
  timesFromReport,
  type ReportedPod,
  type ReportLimits,
  type ResultTimes,
} from './build.js';

export interface PolicyReportWriterOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  /** Whether this replica may write now (leader with time to spare on its lease). */
  readonly mayWrite: () => boolean;
  readonly now?: () => Date;
  /** Resolves when the controller has judged what it was given (waited for at most `settleMaxMs`). */
  readonly settled?: () => Promise<void>;
  /** From a namespace's first change to its write (default 3 s). */
  readonly debounceMs?: number;
  /** How long a namespace with incompletely judged pods is held back (default 60 s). */
  readonly pendingMaxMs?: number;
  /** First retry after a failure (default 5 s), doubling up to 5 minutes. */
  readonly retryMs?: number;
  readonly limits?: ReportLimits;
  /** Per API call (default 10 s). */
  readonly timeoutMs?: number;
}

type Outcome = 'unchanged' | 'created' | 'updated' | 'deleted' | 'held';

const maxRetryMs = 300_000;
const settleMaxMs = 2_000;
/** Namespaces written side by side: the operator's write limiter serves callers in turn, so label writes wait behind at most this many. */
const concurrency = 4;

export class PolicyReportWriter {
  /** namespace → pod key → the pod as last judged. */
  private readonly pods = new Map<string, Map<string, ReportedPod>>();
  private readonly podNamespace = new Map<string, string>();
  private readonly times = new Map<string, ResultTimes>();
  private readonly written = new Map<string, StoredReport>();
  private readonly pendingSince = new Map<string, number>();
  private readonly retry = new Map<string, { failures: number; at: number }>();
  private readonly dirty = new Set<string>();
  private needList = false;
  private listFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushing: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private readonly api: PolicyReportApi;
  private stopped = false;

  constructor(private readonly options: PolicyReportWriterOptions) {
    this.api = new PolicyReportApi(options.kube, options.timeoutMs ?? 10_000, this.abort.signal);
  }

  /** The controller's judgement of a pod; no pod or no results (and complete): the pod is not reported. */
  setPod(
    key: string,
    pod: TrimmedPod | undefined,
    results: readonly ContainerResult[],
    complete: boolean,
  ): void {
    const before = this.podNamespace.get(key);
    // A pod whose judgement is still incomplete stays, so its namespace can be held back.
    const reported = pod !== undefined && (results.length > 0 || !complete);
    if (before !== undefined && (!reported || before !== pod.namespace)) {
      this.pods.get(before)?.delete(key);
      this.podNamespace.delete(key);
      this.mark(before);
    }
    if (!reported) return;
    let inNamespace = this.pods.get(pod.namespace);
    if (inNamespace === undefined) {
      inNamespace = new Map();
      this.pods.set(pod.namespace, inNamespace);
    }
    inNamespace.set(key, { pod, results, complete });
    this.podNamespace.set(key, pod.namespace);
    this.mark(pod.namespace);
  }

  /** After becoming leader: what is stored may differ from what this replica last wrote. */
  resync(): void {
    this.written.clear();
    this.retry.clear();
    this.needList = true;
    for (const ns of this.pods.keys()) this.dirty.add(ns);
    this.schedule(this.debounceMs());
  }

  /** Writes what changed now (tests, benchmarks); resolves when done. */
  flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.abort.abort();
  }

  private debounceMs(): number {
    return this.options.debounceMs ?? 3_000;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private mark(ns: string): void {
    this.dirty.add(ns);
    this.schedule(this.debounceMs());
  }

  /** Arms the timer unless it already fires sooner: a burst of changes never pushes a write back. */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const at = performance.now() + delayMs;
    if (this.timer !== undefined && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.flush().catch((error: unknown) => {
        this.options.logger.error('policy report flush failed', {
          error: error instanceof Error ? error.message : String(error),
        });
      });
    }, delayMs);
    this.timer.unref();
  }

  private async flushOnce(): Promise<void> {
    if (this.stopped || (this.dirty.size === 0 && !this.needList)) return;
    // Followers, and a leader short of lease, keep their changes for later (resync rebuilds them anyway).
    if (!this.options.mayWrite()) {
      this.schedule(this.options.retryMs ?? 5_000);
      return;
    }
    await this.settle();
    if (this.needList && !(await this.listExisting())) return;
    const now = Date.now();
    const due = [...this.dirty].filter((ns) => (this.retry.get(ns)?.at ?? 0) <= now);
    for (const ns of due) this.dirty.delete(ns);
    const limit = pLimit(concurrency);
    await Promise.all(due.map((ns) => limit(() => this.syncLogged(ns))));
    this.scheduleRemaining();
  }

  /** Lets the controller finish the pass it is in, so a namespace is not judged half-way (bounded). */
  private async settle(): Promise<void> {
    if (this.options.settled === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.options.settled(),
      new Promise((r) => {
        timer = setTimeout(r, settleMaxMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private scheduleRemaining(): void {
    if (this.dirty.size === 0) return;
    const now = Date.now();
    let delay = this.debounceMs();
    for (const ns of this.dirty) {
      const at = this.retry.get(ns)?.at;
      delay = Math.min(delay, at === undefined ? delay : Math.max(0, at - now));
    }
    this.schedule(delay);
  }

  private async syncLogged(ns: string): Promise<void> {
    try {
      const outcome = await this.sync(ns);
      this.retry.delete(ns);
      if (outcome === 'held') this.dirty.add(ns);
      else if (outcome !== 'unchanged')
        this.options.logger.info('policy report written', { namespace: ns, action: outcome });
    } catch (error: unknown) {
      if (this.stopped) return;
      const failures = (this.retry.get(ns)?.failures ?? 0) + 1;
      const delay = Math.min(maxRetryMs, (this.options.retryMs ?? 5_000) * 2 ** (failures - 1));
      this.retry.set(ns, { failures, at: Date.now() + delay });
      this.dirty.add(ns);
      this.options.logger.warn('policy report write failed', {
        namespace: ns,
        status: error instanceof KubeError ? error.status : 0,
        error: error instanceof Error ? error.message : String(error),
        retryInMs: delay,
      });
    }
  }

  private async sync(ns: string): Promise<Outcome> {
    const pods = this.pods.get(ns);
    const now = this.now();
    const nowMs = now.getTime();
    if (pods !== undefined && [...pods.values()].some((p) => !p.complete)) {
      const since = this.pendingSince.get(ns) ?? nowMs;
      this.pendingSince.set(ns, since);
      if (nowMs - since < (this.options.pendingMaxMs ?? 60_000)) return 'held';
    } else this.pendingSince.delete(ns);
    const built = buildPolicyReport(
      ns,
      pods?.values() ?? [],
      this.times.get(ns) ?? new Map(),
      now,
      this.options.limits ?? defaultReportLimits,
    );
    if (built.report === undefined) {
      this.times.delete(ns);
      if (pods?.size === 0) this.pods.delete(ns);
      const stored = this.written.get(ns);
      if (stored === undefined) return 'unchanged';
      await this.api.remove(ns, stored);
      this.written.delete(ns);
      return 'deleted';
    }
    this.times.set(ns, built.times);
    const content = reportContent(built.report);
    const before = this.written.get(ns);
    if (before?.content === content) return 'unchanged';
    const saved = await this.api.save(ns, built.report, content, before);
    this.written.set(ns, saved.stored);
    return saved.outcome;
  }

  /** Reads the reports Sigwatch wrote before (any replica): their content, identity and times. */
  private async listExisting(): Promise<boolean> {
    try {
      for (const { namespace, stored, raw } of await this.api.list()) {
        this.written.set(namespace, stored);
        if (!this.times.has(namespace)) this.times.set(namespace, timesFromReport(raw));
        this.dirty.add(namespace);
      }
      this.needList = false;
      this.listFailures = 0;
      return true;
    } catch (error: unknown) {
      if (this.stopped) return false;
      this.listFailures++;
      const delay = Math.min(maxRetryMs, (this.options.retryMs ?? 5_000) * 2 ** (this.listFailures - 1));
      this.options.logger.warn('policy report list failed', {
        status: error instanceof KubeError ? error.status : 0,
        error: error instanceof Error ? error.message : String(error),
        retryInMs: delay,
      });
      this.schedule(delay);
      return false;
    }
  }
}
