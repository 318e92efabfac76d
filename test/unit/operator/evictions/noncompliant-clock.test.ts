import { expect } from 'chai';
import {
  advanceClock,
  clockAnnotations,
  freshNoncompliantMs,
  noncompliantPausedAtAnnotation,
  noncompliantSinceAnnotation,
  readClock,
  type ClockInput,
  type NoncompliantClock,
} from '../../../../src/operator/evictions/noncompliant-clock.js';

const t = (s: number): Date => new Date(Date.UTC(2026, 11, 3, 8, 0, s));

/** Feeds (second, input) observations and returns the fresh NonCompliant seconds after each. */
function run(steps: readonly (readonly [number, ClockInput])[]): number[] {
  let clock: NoncompliantClock = {};
  return steps.map(([s, input]) => {
    clock = advanceClock(clock, input, t(s));
    return freshNoncompliantMs(clock, t(s)) / 1000;
  });
}

describe('operator/noncompliant-clock', () => {
  it('runs while freshly NonCompliant', () => {
    expect(
      run([
        [0, 'fresh-noncompliant'],
        [10, 'fresh-noncompliant'],
        [25, 'fresh-noncompliant'],
      ]),
    ).to.deep.equal([0, 10, 25]);
  });

  it('pauses while stale and resumes where it stopped, however long the outage', () => {
    // NonCompliant 0–20 s, stale (registry down) 20–300 s, fresh again at 300 s: 20 s counted, then on.
    expect(
      run([
        [0, 'fresh-noncompliant'],
        [20, 'stale'],
        [200, 'stale'],
        [300, 'fresh-noncompliant'],
        [305, 'fresh-noncompliant'],
      ]),
    ).to.deep.equal([0, 0, 0, 20, 25]);
  });

  it('counts several outages once each', () => {
    expect(
      run([
        [0, 'fresh-noncompliant'],
        [10, 'stale'],
        [50, 'fresh-noncompliant'],
        [60, 'stale'],
        [100, 'fresh-noncompliant'],
      ]),
    ).to.deep.equal([0, 0, 10, 0, 20]);
  });

  it('resets on anything but NonCompliant, and a stale verdict alone never starts it', () => {
    expect(
      run([
        [0, 'fresh-noncompliant'],
        [30, 'other'],
        [40, 'fresh-noncompliant'],
      ]),
    ).to.deep.equal([0, 0, 0]);
    expect(
      run([
        [0, 'stale'],
        [30, 'stale'],
      ]),
    ).to.deep.equal([0, 0]);
    expect(advanceClock({}, 'stale', t(0))).to.deep.equal({});
  });

  it('survives a restart through its annotations', () => {
    const paused = advanceClock(advanceClock({}, 'fresh-noncompliant', t(0)), 'stale', t(20));
    const stored = clockAnnotations(paused) as Record<string, string>;
    const restored = readClock(stored, t(100));
    expect(restored).to.deep.equal(paused);
    expect(freshNoncompliantMs(advanceClock(restored, 'fresh-noncompliant', t(100)), t(100))).to.equal(
      20_000,
    );
    expect(clockAnnotations({})).to.deep.equal({
      [noncompliantSinceAnnotation]: null,
      [noncompliantPausedAtAnnotation]: null,
    });
  });

  describe('reading annotations errs on the side of waiting longer', () => {
    const rows: readonly (readonly [string, Record<string, string>, NoncompliantClock])[] = [
      ['absent', {}, {}],
      ['malformed since', { [noncompliantSinceAnnotation]: 'yesterday' }, {}],
      ['since in the future', { [noncompliantSinceAnnotation]: t(500).toISOString() }, {}],
      ['running', { [noncompliantSinceAnnotation]: t(0).toISOString() }, { since: t(0) }],
      [
        'malformed paused-at: paused from now',
        { [noncompliantSinceAnnotation]: t(0).toISOString(), [noncompliantPausedAtAnnotation]: 'x' },
        { since: t(0), pausedAt: t(100) },
      ],
      [
        'paused-at before since: paused from now',
        {
          [noncompliantSinceAnnotation]: t(50).toISOString(),
          [noncompliantPausedAtAnnotation]: t(10).toISOString(),
        },
        { since: t(50), pausedAt: t(100) },
      ],
    ];
    for (const [name, annotations, want] of rows) {
      it(name, () => {
        expect(readClock(annotations, t(100))).to.deep.equal(want);
      });
    }
  });
});
