import { expect } from 'chai';
import {
  NewViolations,
  type CountInput,
  type PodFacts,
  type PodStanding,
} from '../../../../src/operator/evictions/new-violations.js';

const t = Date.parse('2026-12-03T08:00:00Z');
const minutes = (n: number): number => n * 60_000;
const bad = `sha256:${'b'.repeat(64)}`;
const worse = `sha256:${'c'.repeat(64)}`;
/** Signed: passes until the policy's key changes. */
const signed = `sha256:${'0'.repeat(64)}`;

const web: PodFacts = { namespace: 'shop', workload: 'Deployment/web' };
const dated = (facts: PodFacts, sinceMs: number): PodFacts => ({ ...facts, sinceMs });
const under = (standing: Partial<PodStanding>): Map<string, PodStanding> =>
  new Map([['p', { failing: [], passing: [], ...standing }]]);
const fails = (...digests: string[]): Map<string, PodStanding> => under({ failing: digests });
const passes = (...digests: string[]): Map<string, PodStanding> => under({ passing: digests });

/** newly/matched under policy p, noncompliantFor 10 min, no confirmation and no eviction unless given. */
function count(v: NewViolations, nowMs: number, input: Partial<CountInput> = {}): string {
  const { newly, matched } = v.count('p', {
    windowMs: minutes(10),
    nowMs,
    evictedAtMs: () => undefined,
    ...input,
  });
  return `${String(newly)} of ${String(matched)}`;
}

describe('operator/evictions/new-violations', () => {
  it('counts the pods that turned NonCompliant within the window, among the pods the policy judges', () => {
    const v = new NewViolations();
    for (let i = 0; i < 10; i++) v.note(`shop/pod-${String(i)}`, web, passes(signed), t - minutes(20));
    v.note('shop/pod-0', { ...web, workload: 'Deployment/a' }, fails(bad), t);
    v.note('shop/pod-1', { ...web, workload: 'Deployment/b' }, fails(bad), t);
    v.note('shop/pod-1', { ...web, workload: 'Deployment/b' }, fails(bad), t + 1_000);
    expect(count(v, t + 1_000)).to.equal('2 of 10');
    expect(count(v, t + minutes(10) + 1_000), 'outside the window').to.equal('0 of 10');
    // The window is at least a minute, however short noncompliantFor is.
    expect(count(v, t + 50_000, { windowMs: 3_000 })).to.equal('2 of 10');
  });

  it('dates a pod first seen NonCompliant by its annotation: long ago is not new, within the window still is', () => {
    const v = new NewViolations();
    // NonCompliant for a day before a restart: not part of any burst.
    v.note('shop/a', dated({ ...web, workload: 'Deployment/a' }, t - minutes(1440)), fails(bad), t);
    // Turned 30 s ago, in a burst a crashed leader was handling: still new.
    v.note('shop/b', dated({ ...web, workload: 'Deployment/b' }, t - 30_000), fails(bad), t);
    // No annotation: turned now.
    v.note('shop/c', { ...web, workload: 'Deployment/c' }, fails(bad), t);
    expect(count(v, t, { windowMs: 60_000 })).to.equal('2 of 3');
  });

  it('forgets a pod the policy no longer judges', () => {
    const v = new NewViolations();
    v.note('shop/a', { ...web, workload: 'Deployment/a' }, fails(bad), t);
    v.note('shop/b', { ...web, workload: 'Deployment/b' }, fails(bad), t);
    v.note('shop/a', web, new Map(), t);
    expect(count(v, t)).to.equal('1 of 1');
  });

  describe('a pod whose workload and digest already failed is no new violation', () => {
    /** web-1 and web-2 turned NonCompliant at `turnedAt` and stay so. */
    const twoReplicas = (turnedAt: number): NewViolations => {
      const v = new NewViolations();
      v.note('shop/web-1', web, fails(bad), turnedAt);
      v.note('shop/web-2', web, fails(bad), turnedAt);
      return v;
    };

    it('the replacement of an evicted pod', () => {
      const v = twoReplicas(t - minutes(11));
      v.forgetPod('shop/web-1');
      v.note('shop/web-3', web, fails(bad), t);
      expect(count(v, t)).to.equal('0 of 2');
    });

    it('the replacement of a pod evicted within the minute (noncompliantFor 3 s): the eviction let its pair through', () => {
      const v = twoReplicas(t - 5_000);
      v.forgetPod('shop/web-1');
      v.note('shop/web-3', web, fails(bad), t);
      const evicted =
        (at: number): CountInput['evictedAtMs'] =>
        (ns, w) =>
          ns === 'shop' && w === 'Deployment/web' ? at : undefined;
      expect(count(v, t, { windowMs: 3_000, evictedAtMs: evicted(t - 1_000) })).to.equal('0 of 2');
      // Without that eviction both are still the burst; an eviction before the pair turned settles nothing.
      expect(count(v, t, { windowMs: 3_000 })).to.equal('2 of 2');
      expect(count(v, t, { windowMs: 3_000, evictedAtMs: evicted(t - 60_000) })).to.equal('2 of 2');
    });

    it('a scale-up, and a rollout replica running the same digest', () => {
      const v = twoReplicas(t - minutes(11));
      v.note('shop/web-3', web, fails(bad), t);
      v.note('shop/web-new-1', web, fails(bad), t);
      expect(count(v, t)).to.equal('0 of 4');
      // Another workload running that digest, or the same workload running another failing digest, is news.
      v.note('shop/api-1', { ...web, workload: 'Deployment/api' }, fails(bad), t);
      v.note('shop/web-new-2', web, fails(worse), t);
      expect(count(v, t)).to.equal('2 of 6');
    });

    it('a pod of a workload that failed before a restart (dated by the annotation of another of its pods)', () => {
      const v = new NewViolations();
      // The replacement of a pod evicted while no leader ran is met first; its sibling dates the pair.
      v.note('shop/web-3', web, fails(bad), t);
      v.note('shop/web-2', dated(web, t - minutes(30)), fails(bad), t);
      expect(count(v, t)).to.equal('0 of 2');
    });
  });

  it('counts pods already NonCompliant when evictions are switched on (they are met then), until a confirmation settles them', () => {
    const v = new NewViolations();
    const switchedAt = t - 10_000;
    v.note('shop/web-1', web, fails(bad), switchedAt);
    v.note('shop/web-2', web, fails(bad), switchedAt);
    for (let i = 0; i < 4; i++) v.note(`shop/ok-${String(i)}`, web, passes(signed), switchedAt);
    expect(count(v, t)).to.equal('2 of 6');
    const confirmedAtMs = t - 5_000;
    expect(count(v, t, { confirmedAtMs })).to.equal('0 of 6');
    // After the confirmation: the replacement and a scale-up of the workload are not news …
    v.forgetPod('shop/web-1');
    v.note('shop/web-3', web, fails(bad), t);
    v.note('shop/web-4', web, fails(bad), t);
    expect(count(v, t, { confirmedAtMs })).to.equal('0 of 7');
    // … nor after a restart within the window, where every pod is met anew with its annotation.
    const restarted = new NewViolations();
    restarted.note('shop/web-3', dated(web, t - 4_000), fails(bad), t);
    restarted.note('shop/web-2', dated(web, switchedAt), fails(bad), t);
    expect(count(restarted, t, { confirmedAtMs })).to.equal('0 of 2');
    expect(count(restarted, t), 'the stored confirmation is what settles them').to.equal('2 of 2');
  });

  it('counts a real tightening: workloads and digests the policy passed until now', () => {
    const v = new NewViolations();
    const long = t - minutes(60);
    v.note('shop/web-1', web, fails(bad), long);
    v.note('shop/web-2', web, fails(bad), long);
    for (let i = 0; i < 4; i++)
      v.note(`shop/api-${String(i)}`, { ...web, workload: 'Deployment/api' }, passes(signed), long);
    // A new key: the api pods fail now; web failed already and still does.
    for (let i = 0; i < 4; i++)
      v.note(`shop/api-${String(i)}`, { ...web, workload: 'Deployment/api' }, fails(signed), t);
    v.note('shop/web-1', web, fails(bad), t);
    expect(count(v, t, { confirmedAtMs: long + 1_000 })).to.equal('4 of 6');
  });

  it('forgets a workload and digest the policy passes: failing it again is news', () => {
    const v = new NewViolations();
    v.note('shop/web-1', web, fails(bad), t - minutes(60));
    // Loosened: the pod passes. Tightened again later: it fails anew.
    v.note('shop/web-1', web, passes(bad), t - minutes(30));
    v.note('shop/web-1', web, fails(bad), t);
    expect(count(v, t)).to.equal('1 of 1');
  });

  it('keeps at most its capacity of pairs, the least recently seen going first; a pod still failing puts its pair back as old as itself', () => {
    const v = new NewViolations(3);
    const turned = t - 30_000;
    for (const w of ['a', 'b', 'c', 'd'])
      v.note(`shop/${w}-1`, { ...web, workload: `Deployment/${w}` }, fails(bad), turned);
    expect(v.pairCount).to.equal(3);
    const confirmedAtMs = t - 20_000;
    // a's pair was dropped, so a-1 does not count …
    expect(count(v, t, { confirmedAtMs })).to.equal('0 of 4');
    expect(count(v, t), 'the three kept pairs are the burst').to.equal('3 of 4');
    // … and seen again, a-1 puts it back dated by its own turn: settled by the confirmation, not new now.
    v.note('shop/a-1', { ...web, workload: 'Deployment/a' }, fails(bad), t);
    expect(v.pairCount).to.equal(3);
    expect(count(v, t, { confirmedAtMs })).to.equal('0 of 4');
  });

  it('forgets a policy with its pairs', () => {
    const v = new NewViolations();
    v.note('shop/web-1', web, fails(bad), t);
    v.forgetPolicy('p');
    expect(v.pairCount).to.equal(0);
    expect(count(v, t)).to.equal('0 of 0');
  });
});
