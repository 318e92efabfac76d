import { expect } from 'chai';
import { parseDuration } from '../../../src/policy/duration.js';

describe('policy/duration', () => {
  const rows: [string, number | undefined][] = [
    ['0', 0],
    ['10m', 600_000],
    ['1h30m', 5_400_000],
    ['720h', 2_592_000_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['1h0m0s', 3_600_000],
    ['250us', 0.25],
    ['250µs', 0.25],
    ['1000000ns', 1],
    ['', undefined],
    ['10', undefined],
    ['-10m', undefined],
    ['+10m', undefined],
    ['10 m', undefined],
    ['1d', undefined],
    ['m', undefined],
    ['10m ', undefined],
    ['1.h2', undefined],
    [`${'9'.repeat(70)}h`, undefined],
  ];
  for (const [text, want] of rows) {
    it(`${JSON.stringify(text)} → ${String(want)}`, () => {
      expect(parseDuration(text)).to.equal(want);
    });
  }
});
