import { expect } from 'chai';
import { Breakers, pausedCondition } from '../../../../src/operator/evictions/breakers.js';
import type { PodFacts, PodStanding } from '../../../../src/operator/evictions/new-violations.js';
import { EvictionState, readPersisted } from '../../../../src/operator/evictions/state.js';
import { createLogger } from '../../../../src/operator/kube/logger.js';
import type { ReadyPolicy } from '../../../../src/policy/compile.js';
import { testKey } from '../../../support/evidence-builder.js';
import { ready } from '../../policy/policy-fixtures.js';

const key = testKey();
const otherKey = testKey();
const start = Date.parse('2026-12-03T08:00:00Z');
const bad = `sha256:${'b'.repeat(64)}`;
const signed = `sha256:${'0'.repeat(64)}`;
const web: PodFacts = { namespace: 'shop', workload: 'Deployment/web' };
const api: PodFacts = { namespace: 'shop', workload: 'Deployment/api' };

function policy(
  generation: number,
  o: { mode?: string; maxNewViolationsPercent?: number; publicKey?: string } = {},
): ReadyPolicy {
  return ready(
    {
      mode: o.mode ?? 'Enforce',
      match: { images: ['registry.example/**'] },
      authorities: [{ name: 'k', key: { publicKey: o.publicKey ?? key.publicKeyPem } }],
      actions: {
        evict: {
          enabled: true,
          noncompliantFor: '3s',
          perOwnerInterval: '10s',
          maxNewViolationsPercent: o.maxNewViolationsPercent ?? 10,
        },
      },
    },
    'p',
    generation,
  );
}

const fails = (digest: string): Map<string, PodStanding> =>
  new Map([['p', { failing: [digest], passing: [] }]]);
const passes = (digest: string): Map<string, PodStanding> =>
  new Map([['p', { failing: [], passing: [digest] }]]);

/** Breakers over one EvictionState, a clock the test moves and a record of status writes. */
function setup(state = new EvictionState()): {
  breakers: Breakers;
  state: EvictionState;
  persisted: string[];
  clock: { ms: number };
  note: (pod: string, facts: PodFacts, states: Map<string, PodStanding>) => void;
  condition: () => string;
} {
  const clock = { ms: start };
  const persisted: string[] = [];
  const breakers = new Breakers({
    options: {
      logger: createLogger('error'),
      now: () => new Date(clock.ms),
      mayWrite: () => true,
      persist: (name) => {
        persisted.push(name);
        return Promise.resolve(true);
      },
    },
    state,
  });
  return {
    breakers,
    state,
    persisted,
    clock,
    note: (pod, facts, states) => {
      breakers.note(pod, facts, states, clock.ms);
    },
    condition: () => {
      const c = pausedCondition(state.paused('p'));
      return `${c.status} ${c.reason}: ${c.message}`;
    },
  };
}

const until = (generation: number): string =>
  `evictions are paused until the annotation sigwatch.dev/confirm-evictions names generation ${String(generation)}`;

describe('operator/evictions/breakers', () => {
  it('asks once when evictions are switched on, saying how many pods would be evicted; evicting a 2-replica Deployment never trips it again, nor does a restart', async () => {
    const s = setup();
    // In Audit (generation 1) the breaker only learns that the policy does not evict.
    s.breakers.seenNotEvicting('p');
    // Enforce: the pods are met as the policy's first evicting pass judges them.
    s.clock.ms += 60_000;
    const switchedAt = s.clock.ms;
    s.note('shop/web-1', web, fails(bad));
    s.note('shop/web-2', web, fails(bad));
    for (let i = 0; i < 4; i++) s.note(`shop/api-${String(i)}`, api, passes(signed));
    await s.breakers.check(policy(2));
    expect(s.condition()).to.equal(
      `True EvictionsSwitchedOn: Evictions were switched on while 2 of 6 matched pods are NonCompliant (more than 10%): up to 2 pods would be evicted; ${until(2)}`,
    );
    expect(s.persisted).to.deep.equal(['p']);

    s.clock.ms += 5_000;
    s.state.observe('p', { evictions: [], confirmation: '2' }, new Date(s.clock.ms));
    await s.breakers.check(policy(2));
    expect(s.condition()).to.equal('False NotPaused: ');
    expect(s.state.confirmed('p')).to.deep.equal({ generation: 2, time: new Date(s.clock.ms).toISOString() });
    expect(s.persisted, 'the confirmation is stored').to.have.length(2);

    // A restart within the minute: a new leader meets every pod anew, dated by its annotation; the
    // stored confirmation settles them. Without it, they would be asked for again.
    const restart = async (stored: Parameters<typeof readPersisted>[0]): Promise<string> => {
      const r = setup();
      r.clock.ms = s.clock.ms + 2_000;
      r.state.observe('p', readPersisted(stored), new Date(r.clock.ms));
      for (const pod of ['shop/web-1', 'shop/web-2'])
        r.note(pod, { ...web, sinceMs: switchedAt }, fails(bad));
      for (let i = 0; i < 4; i++) r.note(`shop/api-${String(i)}`, api, passes(signed));
      await r.breakers.check(policy(2));
      return r.condition();
    };
    const annotated = { metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '2' } } };
    expect(await restart({ ...annotated, status: { evictionsConfirmed: s.state.confirmed('p') } })).to.equal(
      'False NotPaused: ',
    );
    expect(await restart(annotated)).to.match(/^True TooManyNewViolations: 2 of 6 /);

    // Every 10 s (perOwnerInterval), one pod is evicted and its replacement runs the same failing
    // digest again (the node's cached image): well within the breaker's minute.
    let replicas = ['shop/web-1', 'shop/web-2'];
    for (let i = 3; i < 9; i++) {
      s.clock.ms += 10_000;
      const [evicted, kept] = replicas as [string, string];
      s.state.record('p', {
        time: new Date(s.clock.ms).toISOString(),
        namespace: 'shop',
        pod: evicted.slice('shop/'.length),
        owner: 'Deployment/web',
      });
      s.breakers.forgetPod(evicted);
      s.clock.ms += 1_000;
      const replacement = `shop/web-${String(i)}`;
      s.note(replacement, web, fails(bad));
      await s.breakers.check(policy(2));
      expect(s.condition(), `after the eviction of ${evicted}`).to.equal('False NotPaused: ');
      replicas = [kept, replacement];
    }
    // A scale-up of the workload is no news either.
    s.note('shop/web-9', web, fails(bad));
    await s.breakers.check(policy(2));
    expect(s.condition()).to.equal('False NotPaused: ');

    // And a restart then: the replacements' annotations are later than the confirmation, but the
    // stored eviction records say the workload was evicted since.
    const stored = readPersisted({
      status: { evictions: s.state.records('p', new Date(s.clock.ms)) },
      metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '2' } },
    });
    const restarted = setup();
    restarted.clock.ms = s.clock.ms;
    restarted.state.observe('p', stored, new Date(restarted.clock.ms));
    for (const pod of [...replicas, 'shop/web-9'])
      restarted.note(pod, { ...web, sinceMs: s.clock.ms - 20_000 }, fails(bad));
    for (let i = 0; i < 4; i++) restarted.note(`shop/api-${String(i)}`, api, passes(signed));
    await restarted.breakers.check(policy(2));
    expect(restarted.condition()).to.equal('False NotPaused: ');
  });

  it('trips on a real tightening after evictions were confirmed, and says the pods turned NonCompliant', async () => {
    const s = setup();
    s.note('shop/web-1', web, fails(bad));
    for (let i = 0; i < 4; i++) s.note(`shop/api-${String(i)}`, api, passes(signed));
    await s.breakers.check(policy(1));
    expect(s.condition()).to.match(
      /^True TooManyNewViolations: 1 of 5 matched pods turned NonCompliant at once/,
    );
    s.clock.ms += 5_000;
    s.state.observe('p', { evictions: [], confirmation: '1' }, new Date(s.clock.ms));
    await s.breakers.check(policy(1));
    expect(s.condition()).to.equal('False NotPaused: ');
    // A new key in generation 2: the api pods' signed digest fails now; web's failed already.
    s.clock.ms += 5_000;
    for (let i = 0; i < 4; i++) s.note(`shop/api-${String(i)}`, api, fails(signed));
    s.note('shop/web-1', web, fails(bad));
    await s.breakers.check(policy(2, { publicKey: otherKey.publicKeyPem }));
    expect(s.condition()).to.equal(
      `True TooManyNewViolations: 4 of 5 matched pods turned NonCompliant at once (more than 10%); ${until(2)} with a value other than the one it had when this tripped (e.g. 2/again)`,
    );
  });

  it('says the figures it tripped on, also after maxNewViolationsPercent was raised while tripped, and after a restart', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) s.note(`shop/api-${String(i)}`, api, passes(signed));
    s.note('shop/web-1', web, fails(bad));
    await s.breakers.check(policy(1));
    const tripped = `True TooManyNewViolations: 1 of 6 matched pods turned NonCompliant at once (more than 10%); ${until(1)}`;
    expect(s.condition()).to.equal(tripped);
    // Raised while tripped (generation 2): still paused — a raise is no confirmation — and the same figures.
    s.clock.ms += 5_000;
    await s.breakers.check(policy(2, { maxNewViolationsPercent: 100 }));
    expect(s.condition()).to.equal(tripped);
    const restarted = setup();
    restarted.state.observe(
      'p',
      readPersisted({ status: { evictionsPaused: s.state.paused('p') } }),
      new Date(s.clock.ms),
    );
    expect(restarted.condition()).to.equal(tripped);
  });

  it('lets only the leader trip a breaker', async () => {
    const state = new EvictionState();
    const breakers = new Breakers({
      options: {
        logger: createLogger('error'),
        now: () => new Date(start),
        mayWrite: () => false,
        persist: () => Promise.reject(new Error('a follower writes nothing')),
      },
      state,
    });
    breakers.note('shop/web-1', web, fails(bad), start);
    await breakers.check(policy(1));
    expect(state.paused('p')).to.equal(undefined);
  });
});
