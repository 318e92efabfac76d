import { expect } from 'chai';
import { leaseOf, microTime, withSpec } from '../../../../src/operator/kube/lease.js';

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

describe('operator leader election Lease', () => {
  it('keeps only fields of the expected types from what anyone may write', () => {
    const lease = leaseOf({
      metadata: { name: 'sigwatch-leader', resourceVersion: '7' },
      spec: {
        holderIdentity: 'a',
        leaseDurationSeconds: 15.5,
        leaseTransitions: 2,
        acquireTime: 7,
        renewTime: '2026-12-05T10:00:00.000000Z',
        extra: 'x',
      },
    });
    expect(lease).to.deep.equal({
      metadata: { name: 'sigwatch-leader', resourceVersion: '7' },
      spec: { holderIdentity: 'a', renewTime: '2026-12-05T10:00:00.000000Z', leaseTransitions: 2 },
    });
    for (const raw of [undefined, null, 'x', [], { spec: [] }, { metadata: 'x', spec: 'y' }])
      expect(leaseOf(raw)).to.deep.equal({ metadata: {}, spec: {} });
  });

  it('writes a new record over the read metadata and keeps coordinated-election fields', () => {
    const current = leaseOf({
      metadata: { resourceVersion: '9', labels: { a: 'b' } },
      spec: { holderIdentity: 'old', strategy: 'OldestEmulationVersion', preferredHolder: 'p' },
    });
    expect(withSpec(current, { holderIdentity: 'new' })).to.deep.equal({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { resourceVersion: '9', labels: { a: 'b' } },
      spec: { holderIdentity: 'new', strategy: 'OldestEmulationVersion', preferredHolder: 'p' },
    });
  });
});
