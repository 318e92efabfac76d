import { expect } from 'chai';
import { readStoredStatus } from '../../../../src/operator/verdicts/policy-status.js';

describe('readStoredStatus', () => {
  it('reads condition transition times and the start times of violations and Unknown containers', () => {
    const stored = readStoredStatus({
      status: {
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-01T10:00:00Z' }],
        violations: [
          {
            namespace: 'ns',
            pod: 'p',
            container: 'c',
            digest: 'sha256:aa',
            reason: 'SignatureMissing',
            since: '2026-12-01T10:00:01Z',
          },
        ],
        unknown: [
          {
            namespace: 'ns',
            pod: 'q',
            container: 'c',
            digest: 'sha256:bb',
            reasons: ['RegistryUnavailable'],
            since: '2026-12-01T10:00:02Z',
          },
        ],
      },
    });
    expect(stored.conditions.get('Ready')).to.deep.equal({
      status: 'True',
      lastTransitionTime: '2026-12-01T10:00:00Z',
    });
    expect([...stored.since]).to.deep.equal([
      ['ns/p|c|sha256:aa|NonCompliant:SignatureMissing', '2026-12-01T10:00:01Z'],
      ['ns/q|c|sha256:bb|Unknown', '2026-12-01T10:00:02Z'],
    ]);
  });

  it('skips what is malformed and never throws on hostile shapes', () => {
    for (const raw of [
      undefined,
      null,
      7,
      'x',
      [],
      { status: [] },
      { status: { conditions: 'x', violations: {}, unknown: 7 } },
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
        violations: [
          { namespace: 'ns', pod: 'p', container: 'c', digest: 'sha256:aa', reason: 'X', since: 'never' },
          // No reason: which violation it was cannot be told.
          { namespace: 'ns', pod: 'p', container: 'c', digest: 'sha256:aa', since: '2026-12-01T10:00:00Z' },
          'x',
        ],
        unknown: [
          { namespace: 'ns', pod: 7, container: 'c', digest: 'sha256:aa', since: '2026-12-01T10:00:00Z' },
        ],
      },
    });
    expect(stored.conditions.size).to.equal(0);
    expect(stored.since.size).to.equal(0);
  });

  it('reads a bounded number of entries', () => {
    const conditions = Array.from({ length: 1000 }, (_, i) => ({
      type: `T${String(i)}`,
      status: 'True',
      lastTransitionTime: '2026-12-01T10:00:00Z',
    }));
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      namespace: 'ns',
      pod: `p${String(i)}`,
      container: 'c',
      digest: 'sha256:aa',
      reason: 'SignatureMissing',
      since: '2026-12-01T10:00:00Z',
    }));
    const stored = readStoredStatus({ status: { conditions, violations: entries, unknown: entries } });
    expect(stored.conditions.size).to.equal(16);
    expect(stored.since.size).to.equal(100);
  });
});
