/**
 * When an ImageAudit runs (design §2): its cron schedule in its time zone
 * (cron-parser), at most one run for however many times were missed while
 * the operator was down (the latest of them), none while suspended. Pure:
 * the time comes in as arguments, so the rules are tested with a fake clock.
 */
import { createRequire } from 'node:module';
import type { CronExpression, CronExpressionParser } from 'cron-parser';
import { SigwatchError } from '../base/errors.js';

/**
 * cron-parser (and luxon under it) is loaded on first use, not with the
 * module: the operator imports this for ImageAudits, and an operator with no
 * scheduled audit would otherwise carry about 8 MiB more from start-up.
 */
let parser: typeof CronExpressionParser | undefined;
function cronParser(): typeof CronExpressionParser {
  parser ??= (
    createRequire(import.meta.url)('cron-parser') as { CronExpressionParser: typeof CronExpressionParser }
  ).CronExpressionParser;
  return parser;
}

export type ScheduleErrorCode = 'ScheduleInvalid' | 'TimeZoneInvalid';
export class ScheduleError extends SigwatchError<ScheduleErrorCode> {}

export interface CompiledSchedule {
  readonly expression: string;
  readonly timeZone: string;
  /** Fixes the values of Jenkins-style `H` fields (the audit's identity), so every parse agrees. */
  readonly seed: string;
}

/** Audits are expensive: never more often than this (a cron with a seconds field could ask for every second). */
export const minimumIntervalMs = 60_000;

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function parse(s: CompiledSchedule, currentDate: Date): CronExpression {
  return cronParser().parse(s.expression, {
    currentDate,
    tz: s.timeZone,
    strict: false,
    hashSeed: s.seed,
  });
}

/**
 * @throws ScheduleError for an expression or time zone cron-parser does not
 * accept, or a schedule that fires more often than once a minute
 */
export function compileSchedule(expression: string, timeZone = 'UTC', seed = ''): CompiledSchedule {
  if (!validTimeZone(timeZone)) throw new ScheduleError('TimeZoneInvalid', `unknown time zone ${timeZone}`);
  const s = { expression, timeZone, seed };
  let gaps: number[];
  try {
    const it = parse(s, new Date(Date.UTC(2026, 0, 1)));
    const times = Array.from({ length: 3 }, () => it.next().toDate().getTime());
    gaps = [(times[1] ?? 0) - (times[0] ?? 0), (times[2] ?? 0) - (times[1] ?? 0)];
  } catch (error: unknown) {
    throw new ScheduleError(
      'ScheduleInvalid',
      `not a cron expression: ${expression} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (gaps.some((g) => g < minimumIntervalMs))
    throw new ScheduleError('ScheduleInvalid', `${expression} fires more often than once a minute`);
  return s;
}

/** The first scheduled time strictly after `after`. */
export function nextAfter(s: CompiledSchedule, after: Date): Date {
  return parse(s, after).next().toDate();
}

/** The last scheduled time at or before `at`, if there is one. */
export function latestAtOrBefore(s: CompiledSchedule, at: Date): Date | undefined {
  // prev() is strictly before its current date: ask from one millisecond later.
  try {
    return parse(s, new Date(at.getTime() + 1))
      .prev()
      .toDate();
  } catch {
    return undefined; // nothing before (cron-parser throws when out of range)
  }
}

export interface ScheduleState {
  /** The scheduled time of the last run started (status.lastScheduleTime); undefined: never ran. */
  readonly lastScheduleTime?: Date;
  /** When the ImageAudit was created: a schedule does not run for times before it existed. */
  readonly createdAt: Date;
  readonly suspend: boolean;
}

export interface ScheduleDecision {
  /** Start a run now for this scheduled time (the current one, or the latest missed one). */
  readonly runFor?: Date;
  /** The next scheduled time after now (status.nextScheduleTime), whatever `runFor` says. */
  readonly next: Date;
}

export function scheduleDecision(s: CompiledSchedule, state: ScheduleState, now: Date): ScheduleDecision {
  const next = nextAfter(s, now);
  if (state.suspend) return { next };
  const since = state.lastScheduleTime ?? state.createdAt;
  // Due when the first time after the last run has come (asked forwards: on a spring DST change a
  // time that does not exist is moved forwards, and looking back from it would find yesterday's).
  const first = nextAfter(s, since);
  if (first > now) return { next };
  // Several missed times make one run, for the latest of them.
  const latest = latestAtOrBefore(s, now);
  return { runFor: latest !== undefined && latest > since ? latest : first, next };
}
