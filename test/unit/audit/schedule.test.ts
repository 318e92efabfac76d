import { expect } from 'chai';
import {
  compileSchedule,
  latestAtOrBefore,
  nextAfter,
  scheduleDecision,
  ScheduleError,
} from '../../../src/audit/schedule.js';

const t = (iso: string): Date => new Date(iso);

describe('audit schedule', () => {
  it('finds the next and the latest scheduled time, in the time zone', () => {
    const monthly = compileSchedule('0 6 1 * *', 'Europe/Berlin');
    // 06:00 in Berlin on 1 December is 05:00 UTC (CET).
    expect(nextAfter(monthly, t('2026-11-20T00:00:00Z')).toISOString()).to.equal('2026-12-01T05:00:00.000Z');
    // In summer (CEST) it is 04:00 UTC.
    expect(nextAfter(monthly, t('2026-06-15T00:00:00Z')).toISOString()).to.equal('2026-07-01T04:00:00.000Z');
    expect(latestAtOrBefore(monthly, t('2026-12-01T05:00:00Z'))?.toISOString()).to.equal(
      '2026-12-01T05:00:00.000Z',
    );
    expect(latestAtOrBefore(monthly, t('2026-12-01T04:59:59Z'))?.toISOString()).to.equal(
      '2026-11-01T05:00:00.000Z',
    );
  });

  it('refuses an expression or a time zone it cannot use, with a stable code', () => {
    expect(() => compileSchedule('61 * * * *'))
      .to.throw(ScheduleError)
      .with.property('code', 'ScheduleInvalid');
    expect(() => compileSchedule('not cron'))
      .to.throw(ScheduleError)
      .with.property('code', 'ScheduleInvalid');
    expect(() => compileSchedule('* * * * *', 'Mars/Olympus'))
      .to.throw(ScheduleError)
      .with.property('code', 'TimeZoneInvalid');
  });

  it('fixes H fields by the audit identity, refuses more than one run a minute, and keeps a spring DST run', () => {
    const a = compileSchedule('H H * * *', 'UTC', 'ns/a-uid');
    const first = nextAfter(a, t('2026-12-03T00:00:00Z')).toISOString();
    for (let i = 0; i < 5; i++) expect(nextAfter(a, t('2026-12-03T00:00:00Z')).toISOString()).to.equal(first);
    expect(() => compileSchedule('*/10 * * * * *'))
      .to.throw(ScheduleError)
      .with.property('code', 'ScheduleInvalid');
    // 02:30 does not exist in Berlin on 2026-03-29: cron-parser moves it forwards; that day still runs.
    const berlin = compileSchedule('30 2 * * *', 'Europe/Berlin');
    const moved = nextAfter(berlin, t('2026-03-28T12:00:00Z'));
    const d = scheduleDecision(
      berlin,
      { createdAt: t('2026-03-01T00:00:00Z'), lastScheduleTime: t('2026-03-28T01:30:00Z'), suspend: false },
      moved,
    );
    expect(d.runFor?.toISOString()).to.equal(moved.toISOString());
  });

  it('runs at the scheduled minute once, and not again until the next', () => {
    const everyMinute = compileSchedule('* * * * *');
    const created = t('2026-12-03T10:00:30Z');
    const at = t('2026-12-03T10:01:00.200Z');
    const first = scheduleDecision(everyMinute, { createdAt: created, suspend: false }, at);
    expect(first.runFor?.toISOString()).to.equal('2026-12-03T10:01:00.000Z');
    expect(first.next.toISOString()).to.equal('2026-12-03T10:02:00.000Z');
    const after = scheduleDecision(
      everyMinute,
      { createdAt: created, lastScheduleTime: first.runFor ?? at, suspend: false },
      t('2026-12-03T10:01:40Z'),
    );
    expect(after.runFor, 'the same minute does not run twice').to.equal(undefined);
  });

  it('catches up once, for the latest missed time, after the operator was down', () => {
    const hourly = compileSchedule('0 * * * *');
    const d = scheduleDecision(
      hourly,
      { createdAt: t('2026-12-01T00:00:00Z'), lastScheduleTime: t('2026-12-03T02:00:00Z'), suspend: false },
      t('2026-12-03T07:30:00Z'),
    );
    expect(d.runFor?.toISOString(), 'five missed hours, one run').to.equal('2026-12-03T07:00:00.000Z');
    const then = scheduleDecision(
      hourly,
      { createdAt: t('2026-12-01T00:00:00Z'), lastScheduleTime: d.runFor ?? new Date(0), suspend: false },
      t('2026-12-03T07:31:00Z'),
    );
    expect(then.runFor).to.equal(undefined);
  });

  it('does not run for times before the audit existed, nor while suspended', () => {
    const hourly = compileSchedule('0 * * * *');
    expect(
      scheduleDecision(
        hourly,
        { createdAt: t('2026-12-03T07:10:00Z'), suspend: false },
        t('2026-12-03T07:30:00Z'),
      ).runFor,
    ).to.equal(undefined);
    const suspended = scheduleDecision(
      hourly,
      { createdAt: t('2026-12-01T00:00:00Z'), suspend: true },
      t('2026-12-03T07:30:00Z'),
    );
    expect(suspended.runFor).to.equal(undefined);
    expect(suspended.next.toISOString()).to.equal('2026-12-03T08:00:00.000Z');
  });
});
