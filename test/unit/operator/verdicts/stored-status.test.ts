import { expect } from 'chai';
import { readStoredStatus } from '../../../../src/operator/verdicts/policy-status.js';

describe('readStoredStatus', () => {
  it('reads condition transition times and violation start times', () => {
    const stored = readStoredStatus({
      status: {
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-01T10:00:00Z' }],
        violations: [
          { namespace: 'ns', pod: 'p', container: 'c', digest: 'sha256:aa', since: '2026-12-01T10:00:01Z' },
        ],
      },
    });
    expect(stored.conditions.get('Ready')).to.deep.equal({
      status: 'True',
      lastTransitionTime: '2026-12-01T10:00:00Z',
    });
    expect([...stored.violationSince]).to.deep.equal([['ns/p|c|sha256:aa', '2026-12-01T10:00:01Z']]);
  });

  it('skips what is malformed and never throws on hostile shapes', () => {
    for (const raw of [
      undefined,
      null,
      7,
      'x',
      [],
      { status: [] },
      { status: { conditions: 'x', violations: {} } },
    ])
      expect(readStoredStatus(raw).conditions.size).to.equal(0);
    const stored = readStoredStatus({
      status: {
        conditions: [
          { type: 'Ready', status: 'True', lastTransitionTime: 'yesterday' },
          { type: 'Synced', status: 'True' },
          { type: 7, status: 'True', lastTransitionTime: '2026-12-01T10:00:00Z' },
          null,
        ],
        violations: [{ namespace: 'ns', pod: 'p', container: 'c', digest: 'sha256:aa', since: 'never' }, 'x'],
      },
    });
    expect(stored.conditions.size).to.equal(0);
    expect(stored.violationSince.size).to.equal(0);
  });

  it('reads a bounded number of entries', () => {
    const conditions = Array.from({ length: 1000 }, (_, i) => ({
      type: `T${String(i)}`,
      status: 'True',
      lastTransitionTime: '2026-12-01T10:00:00Z',
    }));
    const violations = Array.from({ length: 1000 }, (_, i) => ({
      namespace: 'ns',
      pod: `p${String(i)}`,
      container: 'c',
      digest: 'sha256:aa',
      since: '2026-12-01T10:00:00Z',
    }));
    const stored = readStoredStatus({ status: { conditions, violations } });
    expect(stored.conditions.size).to.equal(16);
    expect(stored.violationSince.size).to.equal(50);
  });
});
