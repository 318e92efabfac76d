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
import { KubeError, type KubeHttp, type KubeResponse } from './kube-http.js';
import type { Logger } from './logger.js';
import type { TrimmedPod } from './pod.js';
import type { ContainerResult } from './policy-status.js';
import {
  buildPolicyReport,
  defaultReportLimits,
  managedByLabel,
  reportContent,
  reportName,
  timesFromReport,
  type PolicyReport,
  type ReportedPod,
  type ReportLimits,
  type ResultTimes,
} from './policy-report.js';

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

interface Written {
  readonly content: string;
  readonly uid: string;
  readonly resourceVersion: string;
}

const group = '/apis/wgpolicyk8s.io/v1alpha2';
const maxRetryMs = 300_000;
const settleMaxMs = 2_000;
const concurrency = 4;
const listPageSize = 50;

const collection = (ns: string): string => `${group}/namespaces/${encodeURIComponent(ns)}/policyreports`;
const item = (ns: string): string => `${collection(ns)}/${reportName}`;
const ok = (res: KubeResponse): boolean => res.status >= 200 && res.status < 300;
const meta = (body: unknown): { uid: string; resourceVersion: string; labels: Record<string, unknown> } => {
  const m = (
    body as { metadata?: { uid?: unknown; resourceVersion?: unknown; labels?: unknown } } | undefined
  )?.metadata;
  return {
    uid: typeof m?.uid === 'string' ? m.uid : '',
    resourceVersion: typeof m?.resourceVersion === 'string' ? m.resourceVersion : '',
    labels: typeof m?.labels === 'object' && m.labels !== null ? (m.labels as Record<string, unknown>) : {},
  };
};

export class PolicyReportWriter {
  /** namespace → pod key → the pod as last judged. */
  private readonly pods = new Map<string, Map<string, ReportedPod>>();
  private readonly podNamespace = new Map<string, string>();
  private readonly times = new Map<string, ResultTimes>();
  private readonly written = new Map<string, Written>();
  private readonly pendingSince = new Map<string, number>();
  private readonly retry = new Map<string, { failures: number; at: number }>();
  private readonly dirty = new Set<string>();
  private needList = false;
  private listFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private flushing: Promise<void> = Promise.resolve();
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(private readonly options: PolicyReportWriterOptions) {}

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
      return this.remove(ns);
    }
    this.times.set(ns, built.times);
    const content = reportContent(built.report);
    const before = this.written.get(ns);
    if (before?.content === content) return 'unchanged';
    return this.put(ns, built.report, content, before);
  }

  private request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<KubeResponse> {
    return this.options.kube.send({
      method,
      path,
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.options.timeoutMs ?? 10_000,
      signal: this.abort.signal,
    });
  }

  private refused(method: string, ns: string, res: KubeResponse): KubeError {
    const message = (res.body as { message?: unknown } | undefined)?.message;
    return new KubeError(
      'KubeRequestFailed',
      `${method} PolicyReport ${ns}/${reportName}: ${String(res.status)} ${typeof message === 'string' ? message : ''}`.trim(),
      res.status,
    );
  }

  /** Creates or replaces the report; a conflict or a vanished object is read again (bounded). */
  private async put(
    ns: string,
    report: PolicyReport,
    content: string,
    before: Written | undefined,
  ): Promise<Outcome> {
    let current: { uid: string; resourceVersion: string } | undefined = before;
    for (let attempt = 0; attempt < 3; attempt++) {
      const res =
        current === undefined
          ? await this.request('POST', `${collection(ns)}?fieldManager=sigwatch`, report)
          : await this.request('PUT', `${item(ns)}?fieldManager=sigwatch`, {
              ...report,
              metadata: { ...report.metadata, resourceVersion: current.resourceVersion },
            });
      if (ok(res)) {
        const m = meta(res.body);
        this.written.set(ns, { content, uid: m.uid, resourceVersion: m.resourceVersion });
        return current === undefined ? 'created' : 'updated';
      }
      if (res.status === 409 || (res.status === 404 && current !== undefined))
        current = await this.readExisting(ns);
      else throw this.refused(current === undefined ? 'POST' : 'PUT', ns, res);
    }
    throw new KubeError('KubeRequestFailed', `PolicyReport ${ns}/${reportName}: conflicts persisted`, 409);
  }

  /** The stored report's identity, if any; one Sigwatch does not manage is never overwritten. */
  private async readExisting(ns: string): Promise<{ uid: string; resourceVersion: string } | undefined> {
    const res = await this.request('GET', item(ns));
    if (res.status === 404) return undefined;
    if (!ok(res)) throw this.refused('GET', ns, res);
    const m = meta(res.body);
    if (m.labels[managedByLabel] !== 'sigwatch')
      throw new KubeError(
        'KubeRequestFailed',
        `PolicyReport ${ns}/${reportName} exists and is not managed by Sigwatch (label ${managedByLabel})`,
        409,
      );
    return m;
  }

  private async remove(ns: string): Promise<Outcome> {
    const before = this.written.get(ns);
    if (before === undefined) return 'unchanged';
    // The uid precondition: only the object Sigwatch wrote, never one someone made since.
    const res = await this.request('DELETE', item(ns), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: before.uid },
    });
    if (!ok(res) && res.status !== 404 && res.status !== 409) throw this.refused('DELETE', ns, res);
    this.written.delete(ns);
    return 'deleted';
  }

  /** Reads the reports Sigwatch wrote before (any replica): their content, identity and times. */
  private async listExisting(): Promise<boolean> {
    const selector = encodeURIComponent(`${managedByLabel}=sigwatch`);
    const fields = encodeURIComponent(`metadata.name=${reportName}`);
    let next = '';
    try {
      do {
        const res = await this.request(
          'GET',
          `${group}/policyreports?labelSelector=${selector}&fieldSelector=${fields}&limit=${String(listPageSize)}${next === '' ? '' : `&continue=${encodeURIComponent(next)}`}`,
        );
        if (!ok(res)) throw this.refused('LIST', '*', res);
        const body = res.body as { items?: unknown; metadata?: { continue?: unknown } } | undefined;
        for (const raw of Array.isArray(body?.items) ? (body.items as unknown[]) : []) {
          const ns = (raw as { metadata?: { namespace?: unknown } } | undefined)?.metadata?.namespace;
          if (typeof ns !== 'string') continue;
          const m = meta(raw);
          this.written.set(ns, { content: reportContent(raw), ...m });
          if (!this.times.has(ns)) this.times.set(ns, timesFromReport(raw));
          this.dirty.add(ns);
        }
        next = typeof body?.metadata?.continue === 'string' ? body.metadata.continue : '';
      } while (next !== '');
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
