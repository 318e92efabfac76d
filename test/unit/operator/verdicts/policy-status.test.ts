import { expect } from 'chai';
import fc from 'fast-check';
import { isDefiniteReason } from '../../../../src/base/reasons.js';
import { KubeHttp } from '../../../../src/operator/kube/client.js';
import { createLogger } from '../../../../src/operator/kube/logger.js';
import {
  PolicyStatusWriter,
  readStoredStatus,
  type ContainerResult,
} from '../../../../src/operator/verdicts/policy-status.js';
import { containerResult } from '../../../support/container-results.js';
import { compile } from '../../policy/policy-fixtures.js';

const policy = compile(
  {
    match: { images: ['reg.test/**'] },
    authorities: [{ name: 'ci', keyless: { issuer: 'https://issuer.test', subject: 'ci@test' } }],
  },
  'prod-images',
);

/** A writer that never writes (not leading), on a clock the test moves. */
function writer(): { status: PolicyStatusWriter; clock: { now: Date } } {
  const clock = { now: new Date('2026-12-01T10:00:05.900Z') };
  const status = new PolicyStatusWriter({
    // Never called: mayWrite is false.
    kube: new KubeHttp({ server: 'https://127.0.0.1:1', authorize: () => Promise.resolve() }),
    logger: createLogger('error'),
    mayWrite: () => false,
    debounceMs: 3_600_000,
    now: () => clock.now,
  });
  return { status, clock };
}

const at = (t: string): Date => new Date(t);

/** Unsigned, definitely. */
const failing = (over: Partial<ContainerResult> = {}): ContainerResult =>
  containerResult('NonCompliant', over);
/** No definite verdict ever: the tag names no index listing the digest. */
const undecided = (over: Partial<ContainerResult> = {}): ContainerResult =>
  containerResult('Unknown', {
    reasons: ['IndexUnresolved'],
    message: 'no index listing this digest was found from the pod’s image tag',
    ...over,
  });
/** NonCompliant before, Unknown now (the moved tag): the last definite verdict stands, stale. */
const staleFailing = (): ContainerResult =>
  containerResult('NonCompliant', {
    current: 'Unknown',
    stale: true,
    reasons: ['IndexUnresolved'],
    message: 'no index listing this digest was found from the pod’s image tag',
    lastDefinite: {
      verdict: 'NonCompliant',
      reasons: ['SignatureMissing'],
      message: 'no signature by any authority of the policy',
    },
  });

describe('PolicyStatusWriter: violations, Unknown containers and counts', () => {
  it('lists a stale NonCompliant container by its last definite reason and message, marked stale', () => {
    const { status } = writer();
    status.setPodResults('shop/web-1', [staleFailing()], at('2026-12-01T10:00:01.000Z'));
    const s = status.compute(policy);
    expect(s.summary.nonCompliant).to.equal(1);
    expect(s.violations.map((v) => [v.pod, v.reason, v.message, v.stale])).to.deep.equal([
      ['web-1', 'SignatureMissing', 'no signature by any authority of the policy', true],
    ]);
    expect(s.unknown).to.deep.equal([]);
  });

  it('lists Unknown pods apart: counted unknown, in `unknown` with their reasons, never in violations', () => {
    const { status } = writer();
    status.setPodResults('shop/unknown', [undecided()], at('2026-12-01T10:00:01.000Z'));
    status.setPodResults('shop/bad', [failing()], at('2026-12-01T10:00:02.000Z'));
    // One container fails, one is undecided: the pod is NonCompliant, listed there alone.
    status.setPodResults(
      'shop/mixed',
      [failing({ container: 'app' }), undecided({ container: 'sidecar' })],
      at('2026-12-01T10:00:03.000Z'),
    );
    const s = status.compute(policy);
    expect(s.summary).to.include({ pods: 3, nonCompliant: 2, unknown: 1 });
    expect(s.violations.map((v) => [v.pod, v.container, v.reason, v.stale])).to.deep.equal([
      ['mixed', 'app', 'SignatureMissing', undefined],
      ['bad', 'app', 'SignatureMissing', undefined],
    ]);
    expect(s.unknown.map((u) => [u.pod, u.container, u.reasons, u.since])).to.deep.equal([
      ['unknown', 'app', ['IndexUnresolved'], '2026-12-01T10:00:01Z'],
    ]);
  });

  it('lists exactly the pods it counts, with definite reasons only, whatever the verdicts', () => {
    const verdict = fc.constantFrom<'Compliant' | 'Exempt' | 'NonCompliant' | 'Unknown' | 'stale'>(
      'Compliant',
      'Exempt',
      'NonCompliant',
      'Unknown',
      'stale',
    );
    fc.assert(
      fc.property(fc.array(fc.array(verdict, { minLength: 1, maxLength: 3 }), { maxLength: 16 }), (pods) => {
        const { status } = writer();
        pods.forEach((containers, i) => {
          status.setPodResults(
            `ns/p${String(i)}`,
            containers.map((v, c) => {
              const container = `c${String(c)}`;
              if (v === 'stale') return { ...staleFailing(), container };
              if (v === 'Unknown') return undecided({ container });
              return containerResult(v, { container });
            }),
          );
        });
        const s = status.compute(policy);
        const podsOf = (entries: readonly { pod: string }[]): number =>
          new Set(entries.map((e) => e.pod)).size;
        expect(podsOf(s.violations)).to.equal(s.summary.nonCompliant);
        expect(podsOf(s.unknown)).to.equal(s.summary.unknown);
        expect(s.violations.every((v) => isDefiniteReason(v.reason))).to.equal(true);
        const listed = new Set(s.violations.map((v) => v.pod));
        expect(s.unknown.some((u) => listed.has(u.pod))).to.equal(false);
      }),
    );
  });

  it('keeps each list to the 50 newest, newest first', () => {
    const { status } = writer();
    for (let i = 0; i < 60; i++)
      status.setPodResults(`ns/p${String(i)}`, [failing()], new Date(Date.UTC(2026, 11, 1, 9, 0, i)));
    const s = status.compute(policy);
    expect(s.summary.nonCompliant).to.equal(60);
    expect(s.violations).to.have.length(50);
    expect(s.violations[0]?.pod).to.equal('p59');
    expect(s.violations[49]?.pod).to.equal('p10');
  });
});

describe('PolicyStatusWriter: since', () => {
  it('is when the verdict was judged, in whole seconds, not when the (debounced) status is computed', () => {
    const { status, clock } = writer();
    status.setPodResults('shop/web-1', [failing()], at('2026-12-01T10:00:01.400Z'));
    clock.now = at('2026-12-01T10:00:02.900Z');
    expect(status.compute(policy).violations[0]?.since).to.equal('2026-12-01T10:00:01Z');
  });

  it('stays while the verdict does, and starts again when it comes back or its reason changes', () => {
    const { status, clock } = writer();
    const since = (): string | undefined => status.compute(policy).violations[0]?.since;
    status.setPodResults('shop/web-1', [failing()], at('2026-12-01T10:00:01.000Z'));
    status.setPodResults('shop/web-1', [failing()], at('2026-12-01T10:00:03.000Z'));
    // An outage: the same violation, stale; its time stays.
    status.setPodResults('shop/web-1', [staleFailing()], at('2026-12-01T10:00:04.000Z'));
    expect(since()).to.equal('2026-12-01T10:00:01Z');
    status.setPodResults('shop/web-1', [containerResult('Compliant')], at('2026-12-01T10:00:05.000Z'));
    expect(status.compute(policy).violations).to.deep.equal([]);
    clock.now = at('2026-12-01T10:00:09.000Z');
    status.setPodResults('shop/web-1', [failing()], at('2026-12-01T10:00:06.000Z'));
    expect(since()).to.equal('2026-12-01T10:00:06Z');
    status.setPodResults(
      'shop/web-1',
      [failing({ reasons: ['KeyMismatch'] })],
      at('2026-12-01T10:00:07.000Z'),
    );
    expect(since()).to.equal('2026-12-01T10:00:07Z');
  });

  it('keeps an earlier stored time of the same violation (a restart), never one from the future or of another reason', () => {
    const entry = (pod: string, reason: string, since: string): object => ({
      namespace: 'shop',
      pod,
      container: 'app',
      digest: failing().digest,
      reason,
      since,
    });
    const { status } = writer();
    status.observeStored(
      policy.name,
      readStoredStatus({
        status: {
          violations: [
            entry('old', 'SignatureMissing', '2026-12-01T09:00:00Z'),
            entry('future', 'SignatureMissing', '2999-01-01T00:00:00Z'),
            entry('other', 'KeyMismatch', '2026-12-01T09:00:00Z'),
          ],
          unknown: [{ ...entry('undecided', '', '2026-12-01T09:30:00Z'), reasons: ['IndexUnresolved'] }],
        },
      }),
    );
    for (const pod of ['old', 'future', 'other'])
      status.setPodResults(`shop/${pod}`, [failing()], at('2026-12-01T10:00:01.000Z'));
    status.setPodResults('shop/undecided', [undecided()], at('2026-12-01T10:00:01.000Z'));
    const s = status.compute(policy);
    const since = Object.fromEntries([...s.violations, ...s.unknown].map((v) => [v.pod, v.since]));
    expect(since).to.deep.equal({
      old: '2026-12-01T09:00:00Z',
      future: '2026-12-01T10:00:01Z',
      other: '2026-12-01T10:00:01Z',
      undecided: '2026-12-01T09:30:00Z',
    });
  });
});
