/**
 * How long a pod has been *freshly* NonCompliant (design §3 "Stale verdicts",
 * §6): the clock runs only while the verdict is a fresh definite
 * NonCompliant, pauses while it is stale (the registry is down and the last
 * definite verdict is all there is), resumes on the next fresh NonCompliant,
 * and resets on anything else (Compliant, Exempt, or no verdict at all).
 *
 * The clock lives in two pod annotations so that a restart loses nothing:
 * `sigwatch.dev/noncompliant-since` is a virtual start — the real start moved
 * forward by every pause — and `sigwatch.dev/noncompliant-paused-at` is set
 * while paused. `now - since` is then the fresh NonCompliant time, however
 * often the verdict went stale in between. Pure: time comes in as arguments.
 */

export const noncompliantSinceAnnotation = 'sigwatch.dev/noncompliant-since';
export const noncompliantPausedAtAnnotation = 'sigwatch.dev/noncompliant-paused-at';

export interface NoncompliantClock {
  readonly since?: Date;
  readonly pausedAt?: Date;
}

/** What the pod's actionable containers currently add up to, for the clock. */
export type ClockInput = 'fresh-noncompliant' | 'stale' | 'other';

/** The clock after observing `input` at `now`. */
export function advanceClock(clock: NoncompliantClock, input: ClockInput, now: Date): NoncompliantClock {
  switch (input) {
    case 'other':
      return {};
    case 'stale':
      // Nothing to pause before a first fresh NonCompliant; a paused clock stays paused from its first pause.
      if (clock.since === undefined || clock.pausedAt !== undefined) return clock;
      return { since: clock.since, pausedAt: now };
    case 'fresh-noncompliant': {
      if (clock.since === undefined) return { since: now };
      if (clock.pausedAt === undefined) return clock;
      const paused = Math.max(0, now.getTime() - clock.pausedAt.getTime());
      return { since: new Date(clock.since.getTime() + paused) };
    }
  }
}

/** Fresh NonCompliant time so far; 0 while paused or not running. */
export function freshNoncompliantMs(clock: NoncompliantClock, now: Date): number {
  if (clock.since === undefined || clock.pausedAt !== undefined) return 0;
  return Math.max(0, now.getTime() - clock.since.getTime());
}

function parseTime(value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/**
 * The clock as the annotations store it. Whatever is off errs on the side of
 * waiting longer: a malformed or future `since` (a hand edit, a skewed
 * writer) restarts the clock, and a paused-at mark that does not parse or
 * lies outside [since, now] counts as paused from now.
 */
export function readClock(annotations: Readonly<Record<string, string>>, now: Date): NoncompliantClock {
  const since = parseTime(annotations[noncompliantSinceAnnotation]);
  if (since === undefined || since > now) return {};
  const mark = annotations[noncompliantPausedAtAnnotation];
  if (mark === undefined) return { since };
  const pausedAt = parseTime(mark);
  return { since, pausedAt: pausedAt === undefined || pausedAt < since || pausedAt > now ? now : pausedAt };
}

/** The annotation values for `clock`; `null` removes one (a merge patch). */
export function clockAnnotations(clock: NoncompliantClock): Record<string, string | null> {
  return {
    [noncompliantSinceAnnotation]: clock.since?.toISOString() ?? null,
    [noncompliantPausedAtAnnotation]: clock.pausedAt?.toISOString() ?? null,
  };
}
