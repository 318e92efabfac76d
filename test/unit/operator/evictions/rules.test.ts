import { expect } from 'chai';
import {
  breakerTrips,
  evictionDecision,
  stillPaused,
  type EvictionBudget,
  type EvictionCandidate,
  type Replacement,
} from '../../../../src/operator/evictions/rules.js';
import type { ImagePolicySpec } from '../../../../src/policy/spec.js';
import { testKey } from '../../../support/evidence-builder.js';
import { ready } from '../../policy/policy-fixtures.js';

const key = testKey();
const now = new Date('2026-12-03T08:00:00Z');
const minutes = (n: number): number => n * 60_000;

function spec(evict: Record<string, unknown> = {}, mode = 'Enforce'): ImagePolicySpec {
  return ready({
    mode,
    match: { images: ['registry.example/**'] },
    authorities: [{ name: 'k', key: { publicKey: key.publicKeyPem } }],
    actions: {
      evict: { enabled: true, noncompliantFor: '10m', maxPerHour: 2, perOwnerInterval: '10m', ...evict },
    },
  }).spec;
}

/** Overrides may set `ownerKind: undefined` for a bare pod. */
type PodOverrides = { [K in keyof EvictionCandidate]?: EvictionCandidate[K] | undefined };

function pod(overrides: PodOverrides = {}): EvictionCandidate {
  const merged: PodOverrides = {
    namespace: 'shop',
    ownerKind: 'ReplicaSet',
    mirror: false,
    protectedNamespace: false,
    verdict: 'fresh-noncompliant',
    clock: { since: new Date(now.getTime() - minutes(11)) },
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(merged).filter(([, v]) => v !== undefined),
  ) as unknown as EvictionCandidate;
}

const budget = (overrides: Partial<EvictionBudget> = {}): EvictionBudget => ({
  lastHour: 0,
  ownerReady: true,
  paused: false,
  ...overrides,
});

function decide(
  p: PodOverrides = {},
  b: Partial<EvictionBudget> = {},
  replacement: Replacement = 'different',
  s: ImagePolicySpec = spec(),
): string {
  const d = evictionDecision({
    spec: s,
    noncompliantForMs: minutes(10),
    perOwnerIntervalMs: minutes(10),
    pod: pod(p),
    budget: budget(b),
    replacement,
    now,
  });
  if (d.kind === 'evict' || d.kind === 'wouldNotHelp') return d.kind;
  return `${d.kind}: ${d.reason}${d.kind === 'wait' && d.retryAt !== undefined ? ` until ${d.retryAt.toISOString()}` : ''}`;
}

describe('operator/eviction-rules', () => {
  it('evicts a ReplicaSet pod freshly NonCompliant for noncompliantFor, within every budget, whose replacement differs', () => {
    expect(decide()).to.equal('evict');
    expect(decide({ ownerKind: 'StatefulSet' })).to.equal('evict');
  });

  describe('never', () => {
    const rows: readonly [string, string, () => string][] = [
      ['in Audit mode', 'Audit mode never evicts', () => decide({}, {}, 'different', spec({}, 'Audit'))],
      [
        'with evictions disabled',
        'evictions are not enabled',
        () => decide({}, {}, 'different', spec({ enabled: false })),
      ],
      ['in a protected namespace', 'protected namespace', () => decide({ protectedNamespace: true })],
      ['a mirror pod', 'mirror pod of a static pod', () => decide({ mirror: true })],
      [
        'a critical pod',
        'critical priority class system-node-critical',
        () => decide({ priorityClassName: 'system-node-critical' }),
      ],
      [
        'a bare pod by default',
        'owner kind none (bare pod) is not in includeKinds',
        () => decide({ ownerKind: undefined }),
      ],
      ['a Job pod by default', 'owner kind Job is not in includeKinds', () => decide({ ownerKind: 'Job' })],
      [
        'a DaemonSet pod by default',
        'owner kind DaemonSet is not in includeKinds',
        () => decide({ ownerKind: 'DaemonSet' }),
      ],
      ['a pod that is not NonCompliant', 'not freshly NonCompliant', () => decide({ verdict: 'other' })],
    ];
    for (const [name, reason, run] of rows) {
      it(name, () => {
        expect(run()).to.equal(`never: ${reason}`);
      });
    }
  });

  it('evicts bare, Job and DaemonSet pods only when includeKinds names them', () => {
    const s = spec({ includeKinds: ['None', 'Job', 'DaemonSet'] });
    for (const ownerKind of [undefined, 'Job', 'DaemonSet']) {
      expect(
        decide(ownerKind === undefined ? { ownerKind: undefined } : { ownerKind }, {}, 'different', s),
      ).to.equal('evict');
    }
  });

  describe('not yet', () => {
    const rows: readonly [string, string, () => string][] = [
      [
        'while the verdict is stale',
        'wait: the verdict is stale: the clock is paused',
        () => decide({ verdict: 'stale' }),
      ],
      [
        'before noncompliantFor has passed',
        'wait: NonCompliant for less than noncompliantFor until 2026-12-03T08:04:00.000Z',
        () => decide({ clock: { since: new Date(now.getTime() - minutes(6)) } }),
      ],
      [
        'while the breaker is open',
        'wait: evictions paused by the circuit breaker',
        () => decide({}, { paused: true }),
      ],
      ['beyond maxPerHour', 'wait: maxPerHour reached', () => decide({}, { lastHour: 2 })],
      [
        'within perOwnerInterval of the last eviction of the owner',
        'wait: another pod of the owner was evicted within perOwnerInterval until 2026-12-03T08:05:00.000Z',
        () => decide({}, { ownerLastEvictedAt: new Date(now.getTime() - minutes(5)) }),
      ],
      [
        'while the owner is not fully Ready',
        'wait: the owner does not have all its replicas Ready',
        () => decide({}, { ownerReady: false }),
      ],
      [
        'while the replacement digest is unknown',
        'wait: the replacement digest is not known yet',
        () => decide({}, {}, 'unknown'),
      ],
    ];
    for (const [name, want, run] of rows) {
      it(name, () => {
        expect(run()).to.equal(want);
      });
    }
  });

  it('reports EvictionWouldNotHelp only when everything else would allow the eviction', () => {
    expect(decide({}, {}, 'same')).to.equal('wouldNotHelp');
    expect(decide({ clock: {} }, {}, 'same')).to.match(/^wait: NonCompliant for less/);
    expect(decide({ ownerKind: 'Job' }, {}, 'same')).to.match(/^never:/);
    expect(decide({}, { lastHour: 5 }, 'same')).to.equal('wait: maxPerHour reached');
  });

  it('allows the next eviction of an owner once perOwnerInterval has passed', () => {
    expect(decide({}, { ownerLastEvictedAt: new Date(now.getTime() - minutes(10)) })).to.equal('evict');
  });

  describe('circuit breaker', () => {
    it('trips when one change makes more than maxNewViolationsPercent of matched pods NonCompliant', () => {
      expect(breakerTrips(11, 100, 10)).to.equal(true);
      expect(breakerTrips(10, 100, 10)).to.equal(false);
      expect(breakerTrips(1, 3, 10)).to.equal(true);
      expect(breakerTrips(0, 0, 10)).to.equal(false);
      expect(breakerTrips(1, 1, 100)).to.equal(false);
    });

    it('holds until the confirm annotation names the generation it tripped at, or a later one', () => {
      const trip = { generation: 4 };
      expect(stillPaused(trip, undefined)).to.equal(true);
      expect(stillPaused(trip, '3')).to.equal(true);
      expect(stillPaused(trip, 'yes')).to.equal(true);
      expect(stillPaused(trip, '-4')).to.equal(true);
      expect(stillPaused(trip, '4')).to.equal(false);
      expect(stillPaused(trip, ' 5')).to.equal(false);
      expect(stillPaused(trip, '4/again')).to.equal(false);
    });

    it('never takes the value the annotation had when it tripped as the confirmation of that trip', () => {
      // Confirmed once at generation 4; a later trip at the same generation (a key rotated) needs a new answer.
      expect(stillPaused({ generation: 4, confirmationAtTrip: '4' }, '4')).to.equal(true);
      expect(stillPaused({ generation: 4, confirmationAtTrip: '4' }, '4/again')).to.equal(false);
      // A standing "999999" does not disable the breaker for good.
      expect(stillPaused({ generation: 4, confirmationAtTrip: '999999' }, '999999')).to.equal(true);
    });
  });
});
