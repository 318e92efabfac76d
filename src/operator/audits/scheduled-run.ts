/**
 * One run of an ImageAudit, as the controller starts it for a scheduled
 * time or a run-now: the status says it started before anything else (a
 * crash mid-run must not run that time again), then the images in the
 * audit's scope are re-verified (run.ts), the report is stored and pruned
 * (reports.ts), and the outcome goes to the status, the history, the
 * metrics and the notifier. Apart from controller.ts, which decides *when*
 * to run and never runs two of one audit at once.
 */
import type { AuditReport } from '../../audit/report.js';
import type { AuditSpec } from '../../audit/spec.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { OperatorMetrics } from '../metrics.js';
import { selectorMatches } from '../verdicts/scope.js';
import type { AuditNotifier, NotifierTarget } from './notifier.js';
import { boundReport, reportName, reportParts } from './report-parts.js';
import { pruneReports, writeReport } from './reports.js';
import { runAudit, type AuditScope, type AuditWorld, type EvidenceSource } from './run.js';
import { auditKey, baseConditions, lastResult, type AuditStatusWriter } from './status.js';
import type { WatchedAudit } from './watched-audit.js';

/** What a run needs of the controller's options. */
export interface AuditRunOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly operatorNamespace: string;
  readonly mayWrite: () => boolean;
  readonly world: () => AuditWorld & {
    readonly policyLabels: (name: string) => Readonly<Record<string, string>>;
  };
  readonly evidence: EvidenceSource;
  readonly metrics?: OperatorMetrics;
}

/** What a run shares with the controller that started it. */
export interface AuditRunContext {
  readonly options: AuditRunOptions;
  readonly now: () => Date;
  readonly status: AuditStatusWriter;
  readonly notifier: AuditNotifier;
  /** Where the audit's alerts go; undefined: it notifies nobody. */
  readonly target: (audit: WatchedAudit, spec: AuditSpec) => NotifierTarget | undefined;
  /** The audit as the watch last delivered it; undefined once deleted. */
  readonly current: (key: string) => WatchedAudit | undefined;
}

/** The images an audit judges and the policies it applies: its own namespace only unless it lives in ours. */
function scopeOf(options: AuditRunOptions, audit: WatchedAudit, spec: AuditSpec): AuditScope {
  const restricted = audit.namespace !== options.operatorNamespace;
  const world = options.world();
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

/** Runs the audit once; a failed run is recorded in the status and the metrics rather than thrown. */
export async function runScheduledAudit(
  context: AuditRunContext,
  audit: WatchedAudit,
  spec: AuditSpec,
  scheduledFor: Date,
  next: Date,
  runNow: string | undefined,
): Promise<void> {
  const { options, status } = context;
  const labels = { namespace: audit.namespace, audit: audit.name };
  const started = context.now();
  const base = baseConditions(audit, spec, options.operatorNamespace);
  // Written first: a crash mid-run must not run this scheduled time (or this run-now) again.
  await status.write(
    audit,
    {
      lastScheduleTime: scheduledFor.toISOString(),
      nextScheduleTime: next.toISOString(),
      ...(runNow === undefined ? {} : { lastRunNow: runNow }),
    },
    [...base, ['Running', 'True', 'Running', `started ${started.toISOString()}`]],
  );
  options.logger.info('audit started', {
    audit: auditKey(audit),
    scheduledFor: scheduledFor.toISOString(),
  });
  try {
    // Bounded once: the stored parts and the status below then fit their schemas.
    const report: AuditReport = boundReport(
      await runAudit({
        audit: { namespace: audit.namespace, name: audit.name },
        world: options.world(),
        scope: scopeOf(options, audit, spec),
        evidence: options.evidence,
        now: () => context.now(),
      }),
    );
    const name = reportName(audit.name, started);
    const owner = { namespace: audit.namespace, name: audit.name, uid: audit.uid };
    // A replica that lost the lease mid-run writes nothing: the new leader owns the reports now.
    if (!options.mayWrite()) throw new Error('lost the lease during the run; its result is not stored');
    await writeReport(options.kube, reportParts(owner, name, report));
    await pruneReports(options.kube, owner, spec.historyLimit);
    const finished = context.now();
    const history = [
      { time: report.time, compliancePercent: report.compliancePercent, nonCompliant: report.nonCompliant },
      ...audit.status.history,
    ].slice(0, spec.historyLimit);
    await status.write(
      audit,
      { lastCompletionTime: finished.toISOString(), lastResult: lastResult(report, name), history },
      [
        ...base,
        ['Running', 'False', 'Completed', ''],
        ['Succeeded', 'True', 'Completed', `report in ImageAuditReport ${name}`],
      ],
    );
    options.metrics?.auditRuns.inc({ ...labels, result: 'success' });
    options.metrics?.auditLastSuccess.set(labels, finished.getTime() / 1000);
    options.metrics?.auditCompliance.set(labels, report.compliancePercent / 100);
    // Notifications never fail the audit: the notifier records its own trouble. Not for an audit
    // deleted (or recreated) while it ran: its alert would be re-posted for ever.
    const target = context.target(audit, spec);
    if (target !== undefined && context.current(auditKey(audit))?.uid === audit.uid)
      await context.notifier.afterRun(auditKey(audit), target, spec, report, name);
    options.logger.info('audit finished', {
      audit: auditKey(audit),
      report: name,
      images: report.images,
    });
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    options.metrics?.auditRuns.inc({ ...labels, result: 'failure' });
    options.logger.error('audit failed', { audit: auditKey(audit), error: message });
    await status.write(audit, {}, [
      ...base,
      ['Running', 'False', 'Failed', ''],
      ['Succeeded', 'False', 'Failed', message.slice(0, 1024)],
    ]);
  }
}
