/**
 * Delivers ImageAudit alerts (alerts.ts) and keeps firing ones alive: after
 * each run it decides what to say, posts it, and records the alert state in
 * the audit's status; every minute the leader re-posts the firing ones. An
 * Alertmanager that cannot be reached sets `NotificationFailed=True` and is
 * retried with backoff (10 s doubling to 5 min) — the audit itself has
 * already succeeded and stays so.
 */
import type { AuditReport } from '../../audit/report.js';
import { auditDefaults, type AuditSpec } from '../../audit/spec.js';
import {
  notifyAction,
  postable,
  postAlerts,
  repostIntervalMs,
  severityOf,
  summaryOf,
  urlAllowed,
  type AlertState,
  type PostableAlert,
} from './alertmanager.js';
import type { Logger } from '../kube/logger.js';

type ConditionTuple = [string, 'True' | 'False', string, string];

export interface NotifierTarget {
  readonly namespace: string;
  readonly name: string;
  readonly url: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Writes the audit's status (merge patch) with these conditions. */
  readonly write: (fields: Record<string, unknown>, conditions: ConditionTuple[]) => Promise<void>;
}

export interface AuditNotifierOptions {
  readonly logger: Logger;
  readonly allowlist: readonly string[];
  readonly mayWrite: () => boolean;
  readonly now: () => Date;
  /** Overrides for tests. */
  readonly retryBaseMs?: number;
  readonly post?: (url: string, alerts: readonly PostableAlert[]) => Promise<void>;
}

interface Tracked {
  target: NotifierTarget;
  state: AlertState;
  /** Alerts still to deliver (a failed post); undefined when delivered. */
  pending?: readonly PostableAlert[] | undefined;
  failures: number;
  retry?: NodeJS.Timeout;
}

const maxRetryMs = 5 * 60_000;

/** Records that the target's URL may not be called (the allow-list is checked before every post). */
const refuseUrl = (target: NotifierTarget): Promise<void> =>
  target.write({}, [
    [
      'NotificationFailed',
      'True',
      'URLNotAllowed',
      `${target.url} is not in the operator's --alertmanager-url-allowlist`,
    ],
  ]);

export class AuditNotifier {
  private readonly tracked = new Map<string, Tracked>();
  private readonly loop: NodeJS.Timeout;

  constructor(private readonly options: AuditNotifierOptions) {
    this.loop = setInterval(() => {
      void this.repost();
    }, repostIntervalMs);
    this.loop.unref();
  }

  /**
   * The alert state an audit's status records. A follower (and a leader
   * that just took over) follows the status; the leader itself is ahead of
   * the watch, so it keeps what it remembers.
   */
  adopt(key: string, target: NotifierTarget, state: AlertState | undefined, fromStatus: boolean): void {
    const t = this.tracked.get(key);
    if (t !== undefined && !fromStatus) {
      t.target = target;
      return;
    }
    clearTimeout(t?.retry);
    if (state === undefined) this.tracked.delete(key);
    else this.tracked.set(key, { target, state, failures: 0 });
  }

  forget(key: string): void {
    clearTimeout(this.tracked.get(key)?.retry);
    this.tracked.delete(key);
  }

  stop(): void {
    clearInterval(this.loop);
    for (const t of this.tracked.values()) clearTimeout(t.retry);
  }

  /** After a successful run: decide, post, record. Never throws. */
  async afterRun(
    key: string,
    target: NotifierTarget,
    spec: AuditSpec,
    report: AuditReport,
    reportName: string,
  ): Promise<void> {
    const when = spec.notify?.when ?? auditDefaults.notify.when;
    if (!urlAllowed(target.url, this.options.allowlist)) {
      await refuseUrl(target);
      return;
    }
    const now = this.options.now();
    const previous = this.tracked.get(key)?.state;
    const action = notifyAction(when, previous, report);
    const counts = { nonCompliant: report.nonCompliant, unknown: report.unknown };
    let state: AlertState;
    const alerts: PostableAlert[] = [];
    const audit = { namespace: target.namespace, name: target.name };
    if (action === 'fire') {
      const severity = severityOf(report);
      const same = previous?.firing === true && previous.severity === severity;
      state = {
        firing: true,
        startsAt: same ? (previous.startsAt ?? now.toISOString()) : now.toISOString(),
        severity,
        summary: summaryOf(audit, report),
        report: reportName,
        ...counts,
      };
      // A changed severity is another alert to Alertmanager: end the old one.
      if (previous?.firing === true && !same)
        alerts.push(postable(audit, previous, target.labels, now, true));
      alerts.push(postable(audit, state, target.labels, now, false));
    } else if (action === 'resolve') {
      state = { firing: false, ...counts };
      const last =
        previous?.firing === true
          ? previous
          : { ...state, summary: summaryOf(audit, report), report: reportName };
      alerts.push(postable(audit, last, target.labels, now, true));
    } else {
      state = previous ?? { firing: false, ...counts };
    }
    const t: Tracked = this.tracked.get(key) ?? { target, state, failures: 0 };
    t.target = target;
    t.state = state;
    clearTimeout(t.retry);
    // What a failed delivery still owed is superseded by what this run says (or by the re-post loop).
    t.pending = undefined;
    this.tracked.set(key, t);
    await target.write({ alert: state }, []);
    if (alerts.length > 0) await this.deliver(key, t, alerts);
  }

  private async deliver(key: string, t: Tracked, alerts: readonly PostableAlert[]): Promise<void> {
    if (!this.options.mayWrite()) return;
    // Checked at every post: the URL in the spec may have changed since the run that decided to notify.
    if (!urlAllowed(t.target.url, this.options.allowlist)) {
      this.forget(key);
      await refuseUrl(t.target);
      return;
    }
    try {
      await (this.options.post ?? postAlerts)(t.target.url, alerts);
      t.pending = undefined;
      t.failures = 0;
      await t.target.write({}, [['NotificationFailed', 'False', 'Delivered', '']]);
    } catch (error: unknown) {
      t.pending = alerts;
      t.failures++;
      const message = error instanceof Error ? error.message : String(error);
      const delay = Math.min(
        maxRetryMs,
        (this.options.retryBaseMs ?? 10_000) * 2 ** Math.min(t.failures - 1, 10),
      );
      this.options.logger.warn('Alertmanager notification failed; retrying', {
        audit: key,
        error: message,
        inMs: delay,
      });
      await t.target.write({}, [['NotificationFailed', 'True', 'Unreachable', message.slice(0, 1024)]]);
      clearTimeout(t.retry);
      t.retry = setTimeout(() => {
        if (this.tracked.get(key) !== t || t.pending === undefined) return;
        // A firing alert is re-posted with a fresh endsAt; a resolution as it was.
        const now = this.options.now();
        const audit = { namespace: t.target.namespace, name: t.target.name };
        const again = t.state.firing ? [postable(audit, t.state, t.target.labels, now, false)] : t.pending;
        void this.deliver(key, t, again);
      }, delay);
      t.retry.unref();
    }
  }

  /** Every minute: keep firing alerts alive (Alertmanager resolves what is not re-sent). */
  private async repost(): Promise<void> {
    if (!this.options.mayWrite()) return;
    const now = this.options.now();
    for (const [key, t] of this.tracked) {
      if (!t.state.firing || t.pending !== undefined) continue; // a failed delivery has its own retry
      const audit = { namespace: t.target.namespace, name: t.target.name };
      await this.deliver(key, t, [postable(audit, t.state, t.target.labels, now, false)]);
    }
  }
}
