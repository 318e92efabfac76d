/**
 * ImageAudit notifications through Alertmanager's v2 API (design §2): the
 * alert `SigwatchAuditNonCompliant` with the labels `audit_namespace`,
 * `audit`, `severity` (`critical` when something is NonCompliant, else
 * `warning` when something is Unknown) plus the audit's own labels.
 *
 * Alertmanager resolves an alert nobody re-sends, so a firing alert is
 * posted with `endsAt` a few minutes ahead and re-posted every minute by
 * the leader; a clean run posts it once more with `endsAt = now`. Which
 * alert is firing lives in the ImageAudit status, so a new leader carries
 * on. The URL must match the operator's allow-list (empty by default): an
 * ImageAudit is not a way to make the operator call arbitrary addresses.
 */
import type { AuditReport } from '../../audit/report.js';
import type { NotifyWhen } from '../../audit/spec.js';

export const alertName = 'SigwatchAuditNonCompliant';
/** How far ahead a firing alert's endsAt lies: a few re-post intervals. */
export const firingHorizonMs = 5 * 60_000;
export const repostIntervalMs = 60_000;

export interface PostableAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt: string;
}

/** What the status keeps about the audit's alert. */
export interface AlertState {
  readonly firing: boolean;
  readonly startsAt?: string;
  readonly severity?: 'critical' | 'warning';
  readonly summary?: string;
  readonly report?: string;
  /** The last run's counts, for `when: OnChange`. */
  readonly nonCompliant?: number;
  readonly unknown?: number;
}

/**
 * Whether `url` may be called: it must share scheme, host and port with an
 * allow-list entry and lie under that entry's path.
 */
export function urlAllowed(url: string, allowlist: readonly string[]): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  // Nothing that changes where the POST goes once `api/v2/alerts` is appended, and no credentials.
  if (
    u.search !== '' ||
    u.hash !== '' ||
    u.username !== '' ||
    u.password !== '' ||
    url.includes('?') ||
    url.includes('#')
  )
    return false;
  return allowlist.some((entry) => {
    if (!URL.canParse(entry)) return false;
    const e = new URL(entry);
    const base = e.pathname.endsWith('/') ? e.pathname : `${e.pathname}/`;
    return e.origin === u.origin && (u.pathname === e.pathname || `${u.pathname}/`.startsWith(base));
  });
}

export type NotifyAction = 'fire' | 'resolve' | 'none';

/** What a finished run means for the alert, given `when` and what was notified before. */
export function notifyAction(
  when: NotifyWhen,
  previous: AlertState | undefined,
  report: AuditReport,
): NotifyAction {
  const bad = report.nonCompliant > 0 || report.unknown > 0;
  const firing = previous?.firing === true;
  if (!bad) return firing || when === 'Always' ? 'resolve' : 'none';
  if (when !== 'OnChange' || !firing) return 'fire';
  const changed = previous.nonCompliant !== report.nonCompliant || previous.unknown !== report.unknown;
  // Unchanged and still firing: the re-post loop keeps it alive; nothing new to say.
  return changed ? 'fire' : 'none';
}

export function severityOf(report: AuditReport): 'critical' | 'warning' {
  return report.nonCompliant > 0 ? 'critical' : 'warning';
}

export function alertLabels(
  audit: { readonly namespace: string; readonly name: string },
  severity: string,
  userLabels: Readonly<Record<string, string>>,
): Record<string, string> {
  // The identity labels win over a user label of the same name.
  return {
    ...userLabels,
    alertname: alertName,
    audit_namespace: audit.namespace,
    audit: audit.name,
    severity,
  };
}

export function summaryOf(
  audit: { readonly namespace: string; readonly name: string },
  r: AuditReport,
): string {
  return `ImageAudit ${audit.namespace}/${audit.name}: ${String(r.nonCompliant)} non-compliant and ${String(r.unknown)} undecided of ${String(r.images)} running images (${String(r.compliancePercent)}% compliant)`;
}

/** The alert for `state`, firing (endsAt ahead) or resolved (endsAt now). */
export function postable(
  audit: { readonly namespace: string; readonly name: string },
  state: AlertState,
  userLabels: Readonly<Record<string, string>>,
  now: Date,
  resolved: boolean,
): PostableAlert {
  return {
    labels: alertLabels(audit, state.severity ?? 'warning', userLabels),
    annotations: {
      summary: state.summary ?? '',
      ...(state.report === undefined ? {} : { report: state.report }),
    },
    startsAt: state.startsAt ?? now.toISOString(),
    endsAt: resolved ? now.toISOString() : new Date(now.getTime() + firingHorizonMs).toISOString(),
  };
}

/**
 * Posts alerts to Alertmanager (`POST /api/v2/alerts`).
 * @throws Error when it cannot be reached or refuses (the caller marks NotificationFailed and retries)
 */
export async function postAlerts(
  baseUrl: string,
  alerts: readonly PostableAlert[],
  timeoutMs = 10_000,
): Promise<void> {
  const url = new URL('api/v2/alerts', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
    redirect: 'error', // a redirect could leave the allow-list
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) {
    const text = (await res.text()).slice(0, 300);
    throw new Error(`Alertmanager answered ${String(res.status)}: ${text}`);
  }
  await res.body?.cancel();
}
