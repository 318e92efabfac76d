/**
 * The ImageAudit controller (design §2): runs each audit on its cron
 * schedule (and when its `sigwatch.dev/run-now` annotation changes), never
 * two runs of one audit at once, at most one catch-up run for the times
 * missed while the operator was down. A run re-verifies every image in its
 * scope (run.ts), stores the report as ImageAuditReports it owns
 * (reports.ts), and records the outcome in the audit's status and
 * the audit metrics. Only the leader runs audits.
 *
 * What must survive a restart is in the status: `lastScheduleTime` (written
 * when a run starts, so a crash mid-run does not run that time again) and
 * `lastRunNow` (the annotation value already served).
 *
 * This module decides *when* (the schedule, run-now, one run at a time);
 * the run itself is scheduled-run.ts, the status writes status.ts, and
 * reading the watched object watched-audit.ts.
 */
import { scheduleDecision } from '../../audit/schedule.js';
import { readAuditSpec, type AuditSpec } from '../../audit/spec.js';
import { AuditNotifier, type NotifierTarget } from './notifier.js';
import { runScheduledAudit, type AuditRunContext, type AuditRunOptions } from './scheduled-run.js';
import { auditKey, AuditStatusWriter, baseConditions } from './status.js';
import type { WatchedAudit } from './watched-audit.js';

export interface AuditControllerOptions extends AuditRunOptions {
  readonly now?: () => Date;
  /** Alertmanager URLs (prefixes) ImageAudits may notify; empty: none. */
  readonly alertmanagerAllowlist?: readonly string[];
  /** Delay of the first notification retry (default 10 s, doubling). */
  readonly notifyRetryMs?: number;
}

const maxTimerMs = 2 ** 31 - 1;

export class AuditController {
  private readonly audits = new Map<string, WatchedAudit>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  /** What this process started runs for, ahead of the watch echoing the status that says so. */
  private readonly served = new Map<string, { scheduleTime?: Date; runNow?: string }>();
  private stopped = false;

  private readonly notifier: AuditNotifier;
  private readonly status: AuditStatusWriter;
  /** What a run shares with this controller. */
  private readonly runContext: AuditRunContext;

  constructor(private readonly options: AuditControllerOptions) {
    this.status = new AuditStatusWriter({
      kube: options.kube,
      logger: options.logger,
      mayWrite: options.mayWrite,
      now: () => this.now(),
    });
    this.notifier = new AuditNotifier({
      logger: options.logger,
      allowlist: options.alertmanagerAllowlist ?? [],
      mayWrite: options.mayWrite,
      now: () => this.now(),
      ...(options.notifyRetryMs === undefined ? {} : { retryBaseMs: options.notifyRetryMs }),
    });
    this.runContext = {
      options,
      now: () => this.now(),
      status: this.status,
      notifier: this.notifier,
      target: (audit, spec) => this.target(audit, spec),
      current: (key) => this.audits.get(key),
    };
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
        this.status.write(this.audits.get(key) ?? audit, fields, [
          ...baseConditions(audit, spec, this.options.operatorNamespace),
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
    // The last run's compliance as stored (newest first), whoever ran it: a new leader exports it at once
    // instead of its own value from an earlier term, or nothing until the next run.
    const last = audit.status.history[0];
    if (last !== undefined && Number.isFinite(last.compliancePercent))
      this.options.metrics?.auditCompliance.set(
        { namespace: audit.namespace, audit: audit.name },
        Math.min(100, Math.max(0, last.compliancePercent)) / 100,
      );
    this.evaluate(auditKey(audit));
  }

  delete(key: string): void {
    this.audits.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.status.forget(key);
    this.served.delete(key);
    this.notifier.forget(key);
    const [namespace = '', audit = ''] = key.split('/');
    this.options.metrics?.auditLastSuccess.remove({ namespace, audit });
    this.options.metrics?.auditCompliance.remove({ namespace, audit });
  }

  /** After gaining the lease: look at every audit (missed runs are caught up now). */
  resync(): void {
    // What this replica wrote before (if it led before) may be older than the status now.
    this.status.clear();
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
      void this.status.write(audit, {}, [
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
      void this.status.write(
        audit,
        { nextScheduleTime: decision.next.toISOString() },
        baseConditions(audit, reading.spec, this.options.operatorNamespace),
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
    const run = runScheduledAudit(
      this.runContext,
      audit,
      reading.spec,
      scheduledFor,
      decision.next,
      runNow,
    ).finally(() => {
      this.running.delete(key);
      // A run-now or a schedule change that arrived while it ran was not served: look again.
      this.evaluate(key);
    });
    this.running.set(key, run);
  }
}
