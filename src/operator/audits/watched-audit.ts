/**
 * An ImageAudit as the controller reads it from the watch: trimmed to the
 * fields it uses and checked field by field, since the object (spec,
 * status, annotations) is written by users and former leaders alike. What
 * the status must carry over a restart or a change of leader (the last
 * schedule time, the run-now value served, the history, the alert state,
 * the conditions) is read back here.
 */
import { createHash } from 'node:crypto';
import { asObject as obj, asString as str } from '../../base/json.js';
import type { AlertState } from './alertmanager.js';
import { auditLimits } from './report-parts.js';

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
    readonly conditions: readonly AuditCondition[];
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

/** The audit, or undefined for an object without namespace and name. */
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

/** A status condition as stored (metav1.Condition). */
export interface AuditCondition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration: number;
}
