import { expect } from 'chai';
import { EvictionState, readPersisted } from '../../../../src/operator/evictions/state.js';

const now = new Date('2026-12-03T08:00:00Z');
const ago = (minutes: number): string => new Date(now.getTime() - minutes * 60_000).toISOString();

describe('operator eviction state', () => {
  describe('readPersisted', () => {
    it('reads the history, the breaker and the confirmation from an ImagePolicy object', () => {
      const evictions = [{ time: ago(5), namespace: 'shop', pod: 'cart-1', owner: 'Deployment/cart' }];
      const paused = {
        reason: 'EvictionsSwitchedOn',
        generation: 3,
        since: ago(1),
        newlyNonCompliant: 9,
        matchedPods: 20,
        maxNewViolationsPercent: 10,
      };
      const confirmed = { generation: 2, time: ago(30) };
      const p = readPersisted({
        metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '4' } },
        status: { evictions, evictionsPaused: paused, evictionsConfirmed: confirmed },
      });
      expect(p).to.deep.equal({ evictions, paused, confirmed, confirmation: '4' });
    });

    it('reads a trip an older version wrote (no reason, no threshold) as too many new violations at an unknown threshold', () => {
      const p = readPersisted({
        status: { evictionsPaused: { generation: 3, since: ago(1), newlyNonCompliant: 1, matchedPods: 5 } },
      });
      expect(p.paused).to.deep.equal({
        reason: 'TooManyNewViolations',
        generation: 3,
        since: ago(1),
        newlyNonCompliant: 1,
        matchedPods: 5,
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
      expect(p.paused?.reason).to.equal('TooManyNewViolations');
    });

    it('drops a malformed confirmation record or trip field: fewer things settled, never more', () => {
      for (const evictionsConfirmed of [
        { generation: 2, time: 'soon' },
        { generation: -1, time: ago(1) },
        { time: ago(1) },
        'yes',
      ]) {
        const p = readPersisted({ status: { evictionsConfirmed } });
        expect(p.confirmed, JSON.stringify(evictionsConfirmed)).to.equal(undefined);
      }
      const p = readPersisted({
        status: {
          evictionsPaused: { reason: 'Whatever', generation: 1, maxNewViolationsPercent: 250 },
        },
      });
      expect(p.paused?.reason).to.equal('TooManyNewViolations');
      expect(p.paused?.maxNewViolationsPercent).to.equal(undefined);
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
        {
          evictions: [],
          paused: {
            reason: 'TooManyNewViolations',
            generation: 3,
            since: ago(1),
            newlyNonCompliant: 5,
            matchedPods: 10,
          },
        },
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
      const trip = s.trip('p', {
        reason: 'TooManyNewViolations',
        generation: 3,
        since: ago(0),
        newlyNonCompliant: 5,
        matchedPods: 10,
      });
      expect(trip.confirmationAtTrip).to.equal('3');
      expect(s.paused('p')?.generation).to.equal(3);
      s.observe('p', { evictions: [], confirmation: '3/again' }, now);
      expect(s.paused('p')).to.equal(undefined);
    });

    it('notes when a confirmation lifted a trip, keeps the later of its own and the stored one, and forgets it with the policy', () => {
      const s = new EvictionState();
      const trip = {
        reason: 'EvictionsSwitchedOn',
        generation: 3,
        since: ago(5),
        newlyNonCompliant: 2,
        matchedPods: 6,
      } as const;
      s.observe('p', { evictions: [], paused: trip }, now);
      expect(s.lift('p', now), 'not confirmed yet').to.equal(undefined);
      s.observe('p', { evictions: [], confirmation: '3' }, now);
      // paused() alone never clears a trip: the lift, and its time, cannot be missed.
      expect(s.paused('p')).to.equal(undefined);
      expect(s.lift('p', now)?.generation).to.equal(3);
      expect(s.lift('p', now), 'lifted once').to.equal(undefined);
      expect(s.confirmed('p')).to.deep.equal({ generation: 3, time: now.toISOString() });
      s.observe('p', { evictions: [], confirmed: { generation: 2, time: ago(60) }, confirmation: '3' }, now);
      expect(s.confirmed('p')?.time, 'an older stored one does not win').to.equal(now.toISOString());
      const fresh = new EvictionState();
      fresh.observe('p', { evictions: [], confirmed: { generation: 3, time: ago(1) } }, now);
      expect(fresh.confirmed('p'), 'a new leader reads it from status').to.deep.equal({
        generation: 3,
        time: ago(1),
      });
      fresh.forget('p');
      expect(fresh.confirmed('p')).to.equal(undefined);
    });
  });
});
