/**
 * The ImageAudit spec (design §2), read and checked the way ImagePolicy
 * specs are: every problem with its field path, so a bad cron or time zone
 * sets `Ready=False` on that audit and affects no other.
 */
import { Findings, type PolicyProblem } from '../policy/validate-shape.js';
import { readSelector } from '../policy/validate-match.js';
import type { LabelSelector } from '../policy/spec.js';
import { compileSchedule, ScheduleError, type CompiledSchedule } from './schedule.js';
import { asObject as obj } from '../base/json.js';

export type NotifyWhen = 'Always' | 'OnViolation' | 'OnChange';

export interface AuditSpec {
  readonly schedule: CompiledSchedule;
  readonly suspend: boolean;
  readonly policies: readonly string[];
  readonly policySelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly historyLimit: number;
  readonly notify?: {
    readonly alertmanager?: { readonly url: string; readonly labels: Readonly<Record<string, string>> };
    readonly when: NotifyWhen;
  };
}

export type AuditSpecReading =
  | { readonly ok: true; readonly spec: AuditSpec }
  | { readonly ok: false; readonly problems: readonly PolicyProblem[] };

const known = [
  'schedule',
  'timeZone',
  'suspend',
  'policies',
  'policySelector',
  'namespaceSelector',
  'historyLimit',
  'notify',
];
export const notifyWhens: readonly NotifyWhen[] = ['Always', 'OnViolation', 'OnChange'];

/** Defaults applied to absent fields; the CRD's field descriptions say them from here too. */
export const auditDefaults = {
  timeZone: 'UTC',
  suspend: false,
  policies: [],
  historyLimit: 12,
  notify: { when: 'OnViolation' },
} as const satisfies {
  timeZone: string;
  suspend: boolean;
  policies: readonly string[];
  historyLimit: number;
  notify: { when: NotifyWhen };
};

/** `seed`: the audit's identity, fixing Jenkins-style `H` fields of its schedule. */
export function readAuditSpec(value: unknown, seed = ''): AuditSpecReading {
  const f = new Findings();
  const s = obj(value);
  if (s === undefined)
    return { ok: false, problems: [{ path: 'spec', code: 'WrongType', message: 'expected an object' }] };
  for (const k of Object.keys(s))
    if (!known.includes(k)) f.problem(`spec.${k}`, 'UnknownField', 'unknown field');
  let schedule: CompiledSchedule | undefined;
  const expr = s['schedule'];
  const tz = s['timeZone'] ?? auditDefaults.timeZone;
  if (typeof expr !== 'string' || expr.trim() === '')
    f.problem('spec.schedule', 'Required', 'a cron expression is required');
  else if (typeof tz !== 'string') f.problem('spec.timeZone', 'WrongType', 'expected a string');
  else {
    try {
      schedule = compileSchedule(expr, tz, seed);
    } catch (error: unknown) {
      if (!(error instanceof ScheduleError)) throw error;
      f.problem(
        error.code === 'TimeZoneInvalid' ? 'spec.timeZone' : 'spec.schedule',
        'InvalidPattern',
        error.message,
      );
    }
  }
  const suspend = s['suspend'] ?? auditDefaults.suspend;
  if (typeof suspend !== 'boolean') f.problem('spec.suspend', 'WrongType', 'expected a boolean');
  const policies = s['policies'] ?? auditDefaults.policies;
  if (!Array.isArray(policies) || !policies.every((p) => typeof p === 'string'))
    f.problem('spec.policies', 'WrongType', 'expected a list of ImagePolicy names');
  const policySelector =
    s['policySelector'] === undefined
      ? undefined
      : readSelector(f, 'spec.policySelector', s['policySelector']);
  const namespaceSelector =
    s['namespaceSelector'] === undefined
      ? undefined
      : readSelector(f, 'spec.namespaceSelector', s['namespaceSelector']);
  const historyLimit = s['historyLimit'] ?? auditDefaults.historyLimit;
  if (
    typeof historyLimit !== 'number' ||
    !Number.isInteger(historyLimit) ||
    historyLimit < 1 ||
    historyLimit > 100
  )
    f.problem('spec.historyLimit', 'OutOfRange', 'expected an integer from 1 to 100');
  let notify: AuditSpec['notify'];
  if (s['notify'] !== undefined) {
    const n = obj(s['notify']);
    const when = n?.['when'] ?? auditDefaults.notify.when;
    if (!notifyWhens.includes(when as NotifyWhen))
      f.problem('spec.notify.when', 'InvalidEnum', `one of ${notifyWhens.join(', ')}`);
    const am = n?.['alertmanager'] === undefined ? undefined : obj(n['alertmanager']);
    const url = am?.['url'];
    if (am !== undefined && (typeof url !== 'string' || !/^https?:\/\//.test(url) || !URL.canParse(url)))
      f.problem('spec.notify.alertmanager.url', 'InvalidPattern', 'expected an http(s) URL');
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj(am?.['labels']) ?? {})) {
      if (typeof v === 'string') labels[k] = v;
      else f.problem(`spec.notify.alertmanager.labels.${k}`, 'WrongType', 'expected a string');
    }
    notify = {
      ...(am === undefined || typeof url !== 'string' ? {} : { alertmanager: { url, labels } }),
      when: when as NotifyWhen,
    };
  }
  if (f.problems.length > 0 || schedule === undefined) return { ok: false, problems: f.problems };
  return {
    ok: true,
    spec: {
      schedule,
      suspend: suspend as boolean,
      policies: policies as string[],
      ...(policySelector === undefined ? {} : { policySelector }),
      ...(namespaceSelector === undefined ? {} : { namespaceSelector }),
      historyLimit: historyLimit as number,
      ...(notify === undefined ? {} : { notify }),
    },
  };
}
