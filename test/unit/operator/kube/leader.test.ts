import { expect } from 'chai';
import { microTime } from '../../../../src/operator/kube/leader.js';

describe('operator leader election MicroTime', () => {
  // The API server refuses a Lease time with three fractional digits (400): metav1.MicroTime wants six.
  for (const [epochMs, text] of [
    [0, '1970-01-01T00:00:00.000000Z'],
    [1_700_000_000_123, '2023-11-14T22:13:20.123000Z'],
    [1_700_000_000_999, '2023-11-14T22:13:20.999000Z'],
  ] as const) {
    it(`writes ${String(epochMs)} as ${text}`, () => {
      expect(microTime(epochMs)).to.equal(text);
    });
  }
});
