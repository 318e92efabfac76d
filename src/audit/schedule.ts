/**
 * When an ImageAudit runs (design §2): its cron schedule in its time zone
 * (cron-parser), at most one run for however many times were missed while
 * the operator was down (the latest of them), none while suspended. Pure:
 * the time comes in as arguments, so the rules are tested with a fake clock.
 */
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { SigwatchError } from '../base/errors.js';

export type ScheduleErrorCode = 'ScheduleInvalid' | 'TimeZoneInvalid';
export class ScheduleError extends SigwatchError<ScheduleErrorCode> {}

export interface CompiledSchedule {
  readonly expression: string;
  readonly timeZone: string;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function parse(s: CompiledSchedule, currentDate: Date): CronExpression {
  return CronExpressionParser.parse(s.expression, { currentDate, tz: s.timeZone, strict: false });
}

/** @throws ScheduleError for an expression or time zone cron-parser does not accept */
export function compileSchedule(expression: string, timeZone = 'UTC'): CompiledSchedule {
  if (!validTimeZone(timeZone)) throw new ScheduleError('TimeZoneInvalid', `unknown time zone ${timeZone}`);
  const s = { expression, timeZone };
  try {
    parse(s, new Date(0)).next();
  } catch (error: unknown) {
    throw new ScheduleError(
      'ScheduleInvalid',
      `not a cron expression: ${expression} (${error instanceof Error ? error.message : String(error)})`,
    );
  }
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
  const due = latestAtOrBefore(s, now);
  const since = state.lastScheduleTime ?? state.createdAt;
  // Several missed times make one run, for the latest of them.
  if (due !== undefined && due > since) return { runFor: due, next };
  return { next };
}
