/**
 * The ImageAudit controller (design §2): runs each audit on its cron
 * schedule (and when its `sigwatch.dev/run-now` annotation changes), never
 * two runs of one audit at once, at most one catch-up run for the times
 * missed while the operator was down. A run re-verifies every image in its
 * scope (audit-run.ts), stores the report as ImageAuditReports it owns
 * (audit-reports.ts), and records the outcome in the audit's status and
 * the audit metrics. Only the leader runs audits.
 *
 * What must survive a restart is in the status: `lastScheduleTime` (written
 * when a run starts, so a crash mid-run does not run that time again) and
 * `lastRunNow` (the annotation value already served).
 */
import { createHash } from 'node:crypto';
import type { AuditReport } from '../../audit/report.js';
import { scheduleDecision } from '../../audit/schedule.js';
import { readAuditSpec, type AuditSpec } from '../../audit/spec.js';
import { auditLimits, boundReport, reportName, reportParts } from './report-parts.js';
import { pruneReports, writeReport } from './reports.js';
import { runAudit, type AuditScope, type AuditWorld, type EvidenceSource } from './run.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { OperatorMetrics } from '../metrics.js';
import type { AlertState } from './alertmanager.js';
import { AuditNotifier, type NotifierTarget } from './notifier.js';
import { selectorMatches } from '../verdicts/scope.js';
import { asObject as obj, asString as str } from '../../base/json.js';

export const runNowAnnotation = 'sigwatch.dev/run-now';

/** An ImageAudit as the watch delivers it, trimmed to what the controller reads. */
export interface WatchedAudit {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly generation: number;
  readonly createdAt: Date;
  readonly runNow?: string;
  readonly spec: unknown;
  readonly status: {
    readonly lastScheduleTime?: Date;
    readonly lastRunNow?: string;
    readonly history: readonly HistoryEntry[];
    readonly alert?: AlertState;
    /** As stored: a new leader keeps them (a merge patch replaces the whole list). */
    readonly conditions: readonly Condition[];
  };
}

export interface HistoryEntry {
  readonly time: string;
  readonly compliancePercent: number;
  readonly nonCompliant: number;
}

const date = (v: unknown): Date | undefined => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? new Date(t) : undefined;
};

/**
 * The run-now value as the status keeps it: an annotation can hold 256 KiB, the status field
 * `auditLimits.runNowLength` characters; a longer value is compared and stored as its SHA-256.
 */
function boundRunNow(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= auditLimits.runNowLength) return value;
  return `sha256:${createHash('sha256').update(value).digest('hex')}`;
}

export function trimAudit(raw: unknown): WatchedAudit | undefined {
  const meta = obj(obj(raw)?.['metadata']);
  const namespace = str(meta?.['namespace']);
  const name = str(meta?.['name']);
  if (meta === undefined || namespace === undefined || name === undefined) return undefined;
  const status = obj(obj(raw)?.['status']);
  const runNow = boundRunNow(str(obj(meta['annotations'])?.[runNowAnnotation]));
  const lastScheduleTime = date(status?.['lastScheduleTime']);
  const lastRunNow = str(status?.['lastRunNow']);
  const history = (Array.isArray(status?.['history']) ? status['history'] : []).flatMap((h: unknown) => {
    const e = obj(h);
    const time = str(e?.['time']);
    const pct = e?.['compliancePercent'];
    const nc = e?.['nonCompliant'];
    return time !== undefined && typeof pct === 'number' && typeof nc === 'number'
      ? [{ time, compliancePercent: pct, nonCompliant: nc }]
      : [];
  });
  const a = obj(status?.['alert']);
  const text = (k: string): Record<string, string> => {
    const v = str(a?.[k]);
    return v === undefined ? {} : { [k]: v };
  };
  const count = (k: string): Record<string, number> => {
    const v = a?.[k];
    return typeof v === 'number' ? { [k]: v } : {};
  };
  const alert: AlertState | undefined =
    a === undefined
      ? undefined
      : {
          firing: a['firing'] === true,
          ...text('startsAt'),
          ...(a['severity'] === 'critical' || a['severity'] === 'warning' ? { severity: a['severity'] } : {}),
          ...text('summary'),
          ...text('report'),
          ...count('nonCompliant'),
          ...count('unknown'),
        };
  return {
    namespace,
    name,
    uid: str(meta['uid']) ?? '',
    generation: typeof meta['generation'] === 'number' ? meta['generation'] : 0,
    createdAt: date(meta['creationTimestamp']) ?? new Date(0),
    ...(runNow === undefined ? {} : { runNow }),
    spec: obj(raw)?.['spec'],
    status: {
      ...(lastScheduleTime === undefined ? {} : { lastScheduleTime }),
      ...(lastRunNow === undefined ? {} : { lastRunNow }),
      history,
      ...(alert === undefined ? {} : { alert }),
      conditions: (Array.isArray(status?.['conditions']) ? status['conditions'] : []).flatMap(
        (c: unknown) => {
          const o = obj(c);
          const type = str(o?.['type']);
          const st = o?.['status'];
          if (type === undefined || (st !== 'True' && st !== 'False')) return [];
          return [
            {
              type,
              status: st,
              reason: str(o?.['reason']) ?? '',
              message: typeof o?.['message'] === 'string' ? o['message'] : '',
              lastTransitionTime: str(o?.['lastTransitionTime']) ?? new Date(0).toISOString(),
              observedGeneration: typeof o?.['observedGeneration'] === 'number' ? o['observedGeneration'] : 0,
            },
          ];
        },
      ),
    },
  };
}

export interface AuditControllerOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly operatorNamespace: string;
  readonly mayWrite: () => boolean;
  readonly world: () => AuditWorld & {
    readonly policyLabels: (name: string) => Readonly<Record<string, string>>;
  };
  readonly evidence: EvidenceSource;
  readonly metrics?: OperatorMetrics;
  readonly now?: () => Date;
  /** Alertmanager URLs (prefixes) ImageAudits may notify; empty: none. */
  readonly alertmanagerAllowlist?: readonly string[];
  /** Delay of the first notification retry (default 10 s, doubling). */
  readonly notifyRetryMs?: number;
}

const maxTimerMs = 2 ** 31 - 1;
const auditKey = (a: { namespace: string; name: string }): string => `${a.namespace}/${a.name}`;

interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}

export class AuditController {
  private readonly audits = new Map<string, WatchedAudit>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  /** Our last conditions per audit, for transition times. */
  private readonly conditions = new Map<string, Condition[]>();
  /** What this process started runs for, ahead of the watch echoing the status that says so. */
  private readonly served = new Map<string, { scheduleTime?: Date; runNow?: string }>();
  /** The last status patch sent per audit: the watch echoes every write, and an unchanged one is not sent again. */
  private readonly lastPatch = new Map<string, string>();
  private stopped = false;

  private readonly notifier: AuditNotifier;

  constructor(private readonly options: AuditControllerOptions) {
    this.notifier = new AuditNotifier({
      logger: options.logger,
      allowlist: options.alertmanagerAllowlist ?? [],
      mayWrite: options.mayWrite,
      now: () => this.now(),
      ...(options.notifyRetryMs === undefined ? {} : { retryBaseMs: options.notifyRetryMs }),
    });
  }

  /** Where the audit's alerts go, and how the notifier records them in its status. */
  private target(audit: WatchedAudit, spec: AuditSpec): NotifierTarget | undefined {
    const am = spec.notify?.alertmanager;
    if (am === undefined) return undefined;
    const key = auditKey(audit);
    return {
      namespace: audit.namespace,
      name: audit.name,
      url: am.url,
      labels: am.labels,
      write: (fields, conditions) =>
        this.writeStatus(this.audits.get(key) ?? audit, fields, [
          ...this.baseConditions(audit, spec),
          ...conditions,
        ]),
    };
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** `fromStatus`: take the alert state from the status (a follower, or a leader that just took over). */
  upsert(audit: WatchedAudit, fromStatus = !this.options.mayWrite()): void {
    this.audits.set(auditKey(audit), audit);
    const reading = readAuditSpec(audit.spec, audit.uid);
    const target = reading.ok ? this.target(audit, reading.spec) : undefined;
    if (target === undefined) this.notifier.forget(auditKey(audit));
    else this.notifier.adopt(auditKey(audit), target, audit.status.alert, fromStatus);
    this.evaluate(auditKey(audit));
  }

  delete(key: string): void {
    this.audits.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.conditions.delete(key);
    this.lastPatch.delete(key);
    this.served.delete(key);
    this.notifier.forget(key);
    const [namespace = '', audit = ''] = key.split('/');
    this.options.metrics?.auditLastSuccess.remove({ namespace, audit });
    this.options.metrics?.auditCompliance.remove({ namespace, audit });
  }

  /** After gaining the lease: look at every audit (missed runs are caught up now). */
  resync(): void {
    // What this replica wrote before (if it led before) may be older than the status now.
    this.conditions.clear();
    this.lastPatch.clear();
    for (const audit of this.audits.values()) this.upsert(audit, true);
  }

  /** Resolves when every running audit has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()]);
  }

  stop(): void {
    this.stopped = true;
    this.notifier.stop();
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private evaluate(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const audit = this.audits.get(key);
    if (audit === undefined || this.stopped) return;
    const reading = readAuditSpec(audit.spec, audit.uid);
    this.options.logger.debug('audit evaluated', {
      audit: key,
      valid: reading.ok,
      leader: this.options.mayWrite(),
    });
    if (!reading.ok) {
      void this.writeStatus(audit, {}, [
        ['Ready', 'False', 'Invalid', reading.problems.map((p) => `${p.path}: ${p.message}`).join('; ')],
      ]);
      return;
    }
    const now = this.now();
    const served = this.served.get(key);
    const lastScheduleTime = [audit.status.lastScheduleTime, served?.scheduleTime]
      .filter((d): d is Date => d !== undefined)
      .sort((a, b) => b.getTime() - a.getTime())[0];
    const decision = scheduleDecision(
      reading.spec.schedule,
      {
        ...(lastScheduleTime === undefined ? {} : { lastScheduleTime }),
        createdAt: audit.createdAt,
        suspend: reading.spec.suspend,
      },
      now,
    );
    const runNow =
      audit.runNow !== undefined &&
      audit.runNow !== audit.status.lastRunNow &&
      audit.runNow !== served?.runNow
        ? audit.runNow
        : undefined;
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.evaluate(key);
      },
      Math.min(maxTimerMs, Math.max(0, decision.next.getTime() - now.getTime()) + 50),
    );
    timer.unref();
    this.timers.set(key, timer);
    if (!this.options.mayWrite()) return; // the leader runs audits; its resync looks again
    if (this.running.has(key)) return; // never two runs of one audit
    if (decision.runFor === undefined && runNow === undefined) {
      void this.writeStatus(
        audit,
        { nextScheduleTime: decision.next.toISOString() },
        this.baseConditions(audit, reading.spec),
      );
      return;
    }
    const scheduledFor = decision.runFor ?? lastScheduleTime ?? now;
    this.served.set(key, {
      scheduleTime: scheduledFor,
      ...(runNow === undefined
        ? served?.runNow === undefined
          ? {}
          : { runNow: served.runNow }
        : { runNow }),
    });
    const run = this.run(audit, reading.spec, scheduledFor, decision.next, runNow).finally(() => {
      this.running.delete(key);
      // A run-now or a schedule change that arrived while it ran was not served: look again.
      this.evaluate(key);
    });
    this.running.set(key, run);
  }

  private scope(audit: WatchedAudit, spec: AuditSpec): AuditScope {
    const restricted = audit.namespace !== this.options.operatorNamespace;
    const world = this.options.world();
    const selected =
      spec.policySelector === undefined
        ? spec.policies
        : world.policies
            .filter((p) => selectorMatches(spec.policySelector, world.policyLabels(p.name)))
            .map((p) => p.name)
            .filter((n) => spec.policies.length === 0 || spec.policies.includes(n));
    return {
      ...(restricted ? { namespace: audit.namespace } : {}),
      ...(!restricted && spec.namespaceSelector !== undefined
        ? { namespaceSelector: spec.namespaceSelector }
        : {}),
      // A selector that selects nothing applies no policy (not every policy).
      policies: spec.policySelector !== undefined && selected.length === 0 ? ['\u0000none'] : selected,
    };
  }

  private baseConditions(audit: WatchedAudit, spec: AuditSpec): [string, 'True' | 'False', string, string][] {
    const restricted = audit.namespace !== this.options.operatorNamespace;
    return [
      ['Ready', 'True', 'Valid', ''],
      restricted
        ? [
            'ScopeRestricted',
            'True',
            'NamespacedAudit',
            `audits only namespace ${audit.namespace}${spec.namespaceSelector === undefined ? '' : ' (namespaceSelector is ignored outside the operator namespace)'}`,
          ]
        : ['ScopeRestricted', 'False', 'OperatorNamespace', ''],
    ];
  }

  private async run(
    audit: WatchedAudit,
    spec: AuditSpec,
    scheduledFor: Date,
    next: Date,
    runNow: string | undefined,
  ): Promise<void> {
    const labels = { namespace: audit.namespace, audit: audit.name };
    const started = this.now();
    const base = this.baseConditions(audit, spec);
    // Written first: a crash mid-run must not run this scheduled time (or this run-now) again.
    await this.writeStatus(
      audit,
      {
        lastScheduleTime: scheduledFor.toISOString(),
        nextScheduleTime: next.toISOString(),
        ...(runNow === undefined ? {} : { lastRunNow: runNow }),
      },
      [...base, ['Running', 'True', 'Running', `started ${started.toISOString()}`]],
    );
    this.options.logger.info('audit started', {
      audit: auditKey(audit),
      scheduledFor: scheduledFor.toISOString(),
    });
    try {
      // Bounded once: the stored parts and the status below then fit their schemas.
      const report: AuditReport = boundReport(
        await runAudit({
          audit: { namespace: audit.namespace, name: audit.name },
          world: this.options.world(),
          scope: this.scope(audit, spec),
          evidence: this.options.evidence,
          now: () => this.now(),
        }),
      );
      const name = reportName(audit.name, started);
      const owner = { namespace: audit.namespace, name: audit.name, uid: audit.uid };
      // A replica that lost the lease mid-run writes nothing: the new leader owns the reports now.
      if (!this.options.mayWrite())
        throw new Error('lost the lease during the run; its result is not stored');
      await writeReport(this.options.kube, reportParts(owner, name, report));
      await pruneReports(this.options.kube, owner, spec.historyLimit);
      const finished = this.now();
      const history = [
        { time: report.time, compliancePercent: report.compliancePercent, nonCompliant: report.nonCompliant },
        ...audit.status.history,
      ].slice(0, spec.historyLimit);
      await this.writeStatus(
        audit,
        {
          lastCompletionTime: finished.toISOString(),
          lastResult: {
            images: report.images,
            signed: report.signed,
            signedUntrusted: report.signedUntrusted,
            withSbom: report.withSbom,
            compliant: report.compliant,
            nonCompliant: report.nonCompliant,
            unknown: report.unknown,
            exempt: report.exempt,
            compliancePercent: report.compliancePercent,
            nonCompliantImages: report.entries
              .filter((e) => e.verdict === 'NonCompliant')
              .slice(0, auditLimits.listed)
              .map((e) => ({
                image: e.image,
                reasons: e.reasons,
                pods: e.pods.slice(0, auditLimits.podsPerListed),
              })),
            unsigned: report.entries
              .filter((e) => e.signature === 'unsigned' || e.signature === 'untrusted')
              .slice(0, auditLimits.listed)
              .map((e) => e.image),
            reportName: name,
          },
          history,
        },
        [
          ...base,
          ['Running', 'False', 'Completed', ''],
          ['Succeeded', 'True', 'Completed', `report in ImageAuditReport ${name}`],
        ],
      );
      this.options.metrics?.auditRuns.inc({ ...labels, result: 'success' });
      this.options.metrics?.auditLastSuccess.set(labels, finished.getTime() / 1000);
      this.options.metrics?.auditCompliance.set(labels, report.compliancePercent / 100);
      // Notifications never fail the audit: the notifier records its own trouble. Not for an audit
      // deleted (or recreated) while it ran: its alert would be re-posted for ever.
      const target = this.target(audit, spec);
      if (target !== undefined && this.audits.get(auditKey(audit))?.uid === audit.uid)
        await this.notifier.afterRun(auditKey(audit), target, spec, report, name);
      this.options.logger.info('audit finished', {
        audit: auditKey(audit),
        report: name,
        images: report.images,
      });
    } catch (error: unknown) {
      const message = error instanceof Error ? error.message : String(error);
      this.options.metrics?.auditRuns.inc({ ...labels, result: 'failure' });
      this.options.logger.error('audit failed', { audit: auditKey(audit), error: message });
      await this.writeStatus(audit, {}, [
        ...base,
        ['Running', 'False', 'Failed', ''],
        ['Succeeded', 'False', 'Failed', message.slice(0, 1024)],
      ]);
    }
  }

  /** Merge-patches the status (leader only); conditions keep their transition time while unchanged. */
  private async writeStatus(
    audit: WatchedAudit,
    fields: Record<string, unknown>,
    conditions: [string, 'True' | 'False', string, string][],
  ): Promise<void> {
    if (!this.options.mayWrite()) return;
    const key = auditKey(audit);
    const now = this.now().toISOString();
    // Ours if we wrote since taking the lease, else what the status holds (a former leader's).
    const before = this.conditions.get(key) ?? audit.status.conditions;
    const merged = new Map(before.map((c) => [c.type, c]));
    for (const [type, status, reason, message] of conditions) {
      const old = merged.get(type);
      merged.set(type, {
        type,
        status,
        reason,
        message,
        lastTransitionTime: old?.status === status ? old.lastTransitionTime : now,
        observedGeneration: audit.generation,
      });
    }
    const list = [...merged.values()];
    this.conditions.set(key, list);
    const body = { status: { observedGeneration: audit.generation, ...fields, conditions: list } };
    const text = JSON.stringify(body);
    if (this.lastPatch.get(key) === text) return;
    const path = `/apis/sigwatch.dev/v1alpha1/namespaces/${encodeURIComponent(audit.namespace)}/imageaudits/${encodeURIComponent(audit.name)}/status`;
    try {
      const res = await this.options.kube.send({
        method: 'PATCH',
        path,
        body,
      });
      if (res.status >= 200 && res.status <= 299) this.lastPatch.set(key, text);
      else if (res.status !== 404)
        this.options.logger.warn('audit status write refused', { audit: key, status: res.status });
    } catch (error: unknown) {
      this.options.logger.warn('audit status write failed', {
        audit: key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
