import { expect } from 'chai';
import { EvictionState, readPersisted } from '../../../../src/operator/evictions/state.js';
import { NewViolations } from '../../../../src/operator/evictions/new-violations.js';

const now = new Date('2026-12-03T08:00:00Z');
const ago = (minutes: number): string => new Date(now.getTime() - minutes * 60_000).toISOString();

describe('operator eviction state', () => {
  describe('readPersisted', () => {
    it('reads the history, the breaker and the confirmation from an ImagePolicy object', () => {
      const p = readPersisted({
        metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '4' } },
        status: {
          evictions: [{ time: ago(5), namespace: 'shop', pod: 'cart-1', owner: 'Deployment/cart' }],
          evictionsPaused: { generation: 3, since: ago(1), newlyNonCompliant: 9, matchedPods: 20 },
        },
      });
      expect(p).to.deep.equal({
        evictions: [{ time: ago(5), namespace: 'shop', pod: 'cart-1', owner: 'Deployment/cart' }],
        paused: { generation: 3, since: ago(1), newlyNonCompliant: 9, matchedPods: 20 },
        confirmation: '4',
      });
    });

    it('drops malformed entries one by one and reads a malformed breaker as paused at generation 0', () => {
      const p = readPersisted({
        status: {
          evictions: [
            { time: 'yesterday', namespace: 'a', pod: 'b', owner: 'c' },
            { time: ago(1), namespace: 'a', owner: 'c' },
            'junk',
            { time: ago(2), namespace: 'a', pod: 'ok', owner: 'Pod/ok' },
          ],
          evictionsPaused: 'yes',
        },
      });
      expect(p.evictions.map((e) => e.pod)).to.deep.equal(['ok']);
      expect(p.paused?.generation).to.equal(0);
    });

    it('reads an object without status as nothing persisted', () => {
      expect(readPersisted({ metadata: { name: 'p' } })).to.deep.equal({ evictions: [] });
      expect(readPersisted(undefined)).to.deep.equal({ evictions: [] });
    });
  });

  describe('EvictionState', () => {
    it('merges what the status says with its own records, keeping the last hour in time order', () => {
      const s = new EvictionState();
      s.record('p', { time: ago(10), namespace: 'a', pod: 'x', owner: 'Deployment/x' });
      s.observe(
        'p',
        {
          evictions: [
            { time: ago(10), namespace: 'a', pod: 'x', owner: 'Deployment/x' },
            { time: ago(30), namespace: 'a', pod: 'y', owner: 'Deployment/y' },
            { time: ago(61), namespace: 'a', pod: 'z', owner: 'Deployment/z' },
          ],
        },
        now,
      );
      expect(s.records('p', now).map((r) => r.pod)).to.deep.equal(['y', 'x']);
      expect(s.budgetFreesAt('p', now)?.toISOString()).to.equal(
        new Date(Date.parse(ago(30)) + 3_600_000).toISOString(),
      );
    });

    it('withdraws a record whose eviction did not happen', () => {
      const s = new EvictionState();
      const r = { time: ago(1), namespace: 'a', pod: 'x', owner: 'Pod/x' };
      s.record('p', r);
      s.withdraw('p', r, now);
      expect(s.records('p', now)).to.deep.equal([]);
      // The watch echoing the status write that still held it does not bring it back.
      s.observe('p', { evictions: [r] }, now);
      expect(s.records('p', now)).to.deep.equal([]);
    });

    it("keeps records for the policy's perOwnerInterval when it exceeds the hour, counting only the hour for the budget", () => {
      const s = new EvictionState();
      s.keepFor('p', 2 * 3_600_000);
      s.record('p', { time: ago(90), namespace: 'a', pod: 'x', owner: 'Deployment/x' });
      s.record('p', { time: ago(10), namespace: 'a', pod: 'y', owner: 'Deployment/y' });
      expect(s.records('p', now).map((r) => r.pod)).to.deep.equal(['x', 'y']);
      expect(s.lastHour('p', now).map((r) => r.pod)).to.deep.equal(['y']);
      expect(s.ownerLastEvictedAt('a', 'Deployment/x')?.toISOString()).to.equal(ago(90));
    });

    it("finds an owner's last eviction under any policy, in its own namespace only", () => {
      const s = new EvictionState();
      s.record('p', { time: ago(20), namespace: 'a', pod: 'x1', owner: 'Deployment/x' });
      s.record('q', { time: ago(5), namespace: 'a', pod: 'x2', owner: 'Deployment/x' });
      s.record('q', { time: ago(1), namespace: 'b', pod: 'x3', owner: 'Deployment/x' });
      expect(s.ownerLastEvictedAt('a', 'Deployment/x')?.toISOString()).to.equal(ago(5));
      expect(s.ownerLastEvictedAt('a', 'Deployment/y')).to.equal(undefined);
    });

    it('keeps a trip until the annotation names its generation or a later one, and adopts a persisted trip', () => {
      const s = new EvictionState();
      s.observe(
        'p',
        { evictions: [], paused: { generation: 3, since: ago(1), newlyNonCompliant: 5, matchedPods: 10 } },
        now,
      );
      expect(s.paused('p')?.generation).to.equal(3);
      expect(s.observe('p', { evictions: [], confirmation: '2' }, now), 'a changed confirmation').to.equal(
        true,
      );
      expect(s.paused('p')?.generation, 'an older generation does not confirm').to.equal(3);
      s.observe('p', { evictions: [], confirmation: '3' }, now);
      expect(s.paused('p')).to.equal(undefined);
      // Our own status write (still naming the trip) arriving after the confirmation does not re-pause.
      expect(s.observe('p', { evictions: [], confirmation: '3' }, now)).to.equal(false);
      expect(s.paused('p')).to.equal(undefined);
      // A later trip at the same generation is not confirmed by the value already standing.
      const trip = s.trip('p', { generation: 3, since: ago(0), newlyNonCompliant: 5, matchedPods: 10 });
      expect(trip.confirmationAtTrip).to.equal('3');
      expect(s.paused('p')?.generation).to.equal(3);
      s.observe('p', { evictions: [], confirmation: '3/again' }, now);
      expect(s.paused('p')).to.equal(undefined);
    });
  });

  describe('NewViolations (the circuit breaker input)', () => {
    const states = (
      noncompliant: boolean,
      sinceMs?: number,
    ): Map<string, { noncompliant: boolean; sinceMs?: number }> =>
      new Map([['p', { noncompliant, ...(sinceMs === undefined ? {} : { sinceMs }) }]]);
    const t = now.getTime();

    it('counts pods that turned NonCompliant within the window among the pods the policy judges', () => {
      const v = new NewViolations();
      for (let i = 0; i < 10; i++) v.note(`ns/pod-${String(i)}`, states(false), t - 600_000);
      expect(v.note('ns/pod-0', states(true), t)).to.deep.equal(['p']);
      expect(v.note('ns/pod-1', states(true), t)).to.deep.equal(['p']);
      expect(v.note('ns/pod-1', states(true), t), 'still NonCompliant is no new transition').to.deep.equal(
        [],
      );
      expect(v.count('p', 300_000, t)).to.deep.equal({ newly: 2, matched: 10 });
      expect(v.count('p', 300_000, t + 301_000), 'outside the window').to.deep.equal({
        newly: 0,
        matched: 10,
      });
    });

    it('dates a pod first seen NonCompliant by its annotation: long ago is not new, within the window still is', () => {
      const v = new NewViolations();
      // NonCompliant for a day before a restart: not part of any burst.
      expect(v.note('ns/a', states(true, t - 86_400_000), t)).to.deep.equal(['p']);
      // Turned 30 s ago, in a burst a crashed leader was handling: still new.
      v.note('ns/b', states(true, t - 30_000), t);
      // No annotation: turned now.
      v.note('ns/c', states(true), t);
      expect(v.count('p', 60_000, t)).to.deep.equal({ newly: 2, matched: 3 });
    });

    it('forgets a pod the policy no longer judges, and settles the count after a confirmation', () => {
      const v = new NewViolations();
      v.note('ns/a', states(true), t);
      v.note('ns/b', states(true), t);
      v.note('ns/a', new Map(), t);
      expect(v.count('p', 60_000, t)).to.deep.equal({ newly: 1, matched: 1 });
      v.settle('p');
      expect(v.count('p', 60_000, t)).to.deep.equal({ newly: 0, matched: 1 });
    });
  });
});
