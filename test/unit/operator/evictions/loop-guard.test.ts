import { expect } from 'chai';
import {
  guardEviction,
  isReplacement,
  replacementOutcome,
} from '../../../../src/operator/evictions/loop-guard.js';
import { EvictionState, maxLoops, readPersisted } from '../../../../src/operator/evictions/state.js';
import type {
  EvictionRecord,
  PredictedReplacement,
} from '../../../../src/operator/verdicts/eviction-status.js';
import { trimPod, type TrimmedPod } from '../../../../src/operator/pod.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const t0 = new Date('2026-12-03T08:00:00.400Z');
const at = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000);

const predicted = (o: Partial<PredictedReplacement> & { tagTarget?: string; nodeImage?: string } = {}) => ({
  controller: o.controller ?? 'ReplicaSet/web-1',
  generation: o.generation ?? 1,
  reasons: o.reasons ?? ['SignatureMissing'],
  images: [
    {
      container: 'app',
      image: 'reg.test/app:1.0',
      tagTarget: o.tagTarget ?? d('b'),
      nodeImage: o.nodeImage ?? 'absent',
    },
  ],
});

const pinned: PredictedReplacement = {
  controller: 'ReplicaSet/web-1',
  generation: 1,
  reasons: ['SignatureMissing'],
  images: [{ container: 'app', image: `reg.test/app@${d('b')}` }],
};

const evicted = (p: PredictedReplacement = predicted(), time = t0, pod = 'web-1-a'): EvictionRecord => ({
  time: time.toISOString(),
  namespace: 'shop',
  pod,
  owner: 'Deployment/web',
  predicted: p,
});

const pod = (name: string, created: string, owner = 'web-1'): TrimmedPod => {
  const p = trimPod({
    metadata: {
      namespace: 'shop',
      name,
      uid: name,
      creationTimestamp: created,
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: 'u', controller: true },
      ],
    },
    spec: { containers: [{ name: 'app', image: 'reg.test/app:1.0' }] },
  });
  if (p === undefined) throw new Error('test pod did not trim');
  return p;
};

describe('operator eviction loop guard', () => {
  describe('guardEviction', () => {
    const loop = { time: at(30).toISOString(), pod: 'web-1-b', digest: d('a') };
    const cases: {
      name: string;
      last: EvictionRecord | undefined;
      now: PredictedReplacement;
      proven?: boolean;
      want: string;
    }[] = [
      { name: 'no eviction of the workload yet', last: undefined, now: predicted(), want: 'allow' },
      {
        name: 'a record from before the guard (no prediction)',
        last: { time: t0.toISOString(), namespace: 'shop', pod: 'x', owner: 'Deployment/web', loop },
        now: predicted(),
        want: 'allow',
      },
      {
        name: 'looped, same template, tag target and node image',
        last: { ...evicted(), loop },
        now: predicted(),
        want: 'stopped',
      },
      {
        name: 'looped, template edited',
        last: { ...evicted(), loop },
        now: predicted({ generation: 2 }),
        want: 'released',
      },
      {
        name: 'looped, new template object (a rollout)',
        last: { ...evicted(), loop },
        now: predicted({ controller: 'ReplicaSet/web-2' }),
        want: 'released',
      },
      {
        name: 'looped, the tag moved',
        last: { ...evicted(), loop },
        now: predicted({ tagTarget: d('c') }),
        want: 'released',
      },
      {
        name: "looped, the node's image changed",
        last: { ...evicted(), loop },
        now: predicted({ nodeImage: d('c') }),
        want: 'released',
      },
      {
        name: 'looped for another reason',
        last: { ...evicted(), loop },
        now: predicted({ reasons: ['SbomDeniedPackage'] }),
        want: 'allow',
      },
      {
        name: 'not looped, same conditions, no replacement judged yet',
        last: evicted(),
        now: predicted(),
        want: 'unproven',
      },
      {
        name: 'not looped, a replacement passed',
        last: evicted(),
        now: predicted(),
        proven: true,
        want: 'allow',
      },
      {
        name: 'not looped, a pinned digest (no tag to guess from), no replacement judged yet',
        last: evicted(pinned),
        now: pinned,
        want: 'allow',
      },
      {
        name: 'not looped, the tag moved since',
        last: evicted(),
        now: predicted({ tagTarget: d('c') }),
        want: 'allow',
      },
    ];
    for (const c of cases) {
      it(`${c.name} → ${c.want}`, () => {
        expect(guardEviction(c.last, c.now, c.proven ?? false).kind).to.equal(c.want);
      });
    }
  });

  it('takes a pod of the same template created at or after the eviction for its replacement, never a sibling', () => {
    const r = evicted();
    expect(isReplacement(r, pod('web-1-b', '2026-12-03T08:00:00Z'))).to.equal(true); // same second
    expect(isReplacement(r, pod('web-1-b', '2026-12-03T08:05:00Z'))).to.equal(true);
    expect(isReplacement(r, pod('web-1-c', '2026-12-03T07:59:59Z'))).to.equal(false);
    expect(isReplacement(r, pod('web-2-a', '2026-12-03T08:05:00Z', 'web-2'))).to.equal(false);
    const unguarded = { time: r.time, namespace: r.namespace, pod: r.pod, owner: r.owner };
    expect(isReplacement(unguarded, pod('web-1-b', '2026-12-03T08:05:00Z'))).to.equal(false);
  });

  it("reads a replacement's verdict: the same reason again is a loop, a pass proves the eviction", () => {
    const r = evicted();
    expect(replacementOutcome(r, ['SignatureMissing'], false)).to.equal('loop');
    expect(replacementOutcome(r, ['IdentityMismatch', 'SignatureMissing'], false)).to.equal('loop');
    expect(replacementOutcome(r, ['SbomDeniedPackage'], false)).to.equal('other');
    expect(replacementOutcome(r, [], true)).to.equal('passed');
    expect(replacementOutcome(r, [], false), 'Unknown or stale: not yet a pass').to.equal('other');
  });

  it('stops after one eviction, across a restart, and resumes after a template change', () => {
    const state = new EvictionState();
    state.record('p', evicted());
    // The replacement, judged a minute later, fails for the same reason.
    const last = state.lastFromController('p', 'shop', 'ReplicaSet/web-1');
    expect(last === undefined ? 'none' : replacementOutcome(last, ['SignatureMissing'], false)).to.equal(
      'loop',
    );
    if (last === undefined) return;
    const loop = { time: at(60).toISOString(), pod: 'web-1-b', digest: d('a') };
    expect(state.markLoop('p', last, loop)).to.equal(true);
    expect(state.markLoop('p', last, loop), 'marked once').to.equal(false);
    expect(
      guardEviction(state.lastEviction('p', 'shop', 'Deployment/web'), predicted(), false).kind,
    ).to.equal('stopped');

    // Two hours on, past the kept window, from what the status holds (a restart).
    const later = at(7200);
    const status = { status: { evictions: state.records('p', later) } };
    const restarted = new EvictionState();
    restarted.observe('p', readPersisted(JSON.parse(JSON.stringify(status))), later);
    const kept = restarted.lastEviction('p', 'shop', 'Deployment/web');
    expect(kept?.loop).to.deep.equal(loop);
    expect(restarted.loops('p', later).map((r) => r.pod)).to.deep.equal(['web-1-a']);
    expect(guardEviction(kept, predicted(), false).kind).to.equal('stopped');

    // The ReplicaSet's template is edited: the guard lets one eviction through.
    const edited = guardEviction(kept, predicted({ generation: 2 }), false);
    expect(edited.kind).to.equal('released');
    if (kept === undefined) return;
    expect(restarted.releaseLoop('p', kept, later)).to.equal(true);
    expect(restarted.loops('p', later)).to.deep.equal([]);
    // An echo of the status written before the release does not bring the loop back.
    restarted.observe('p', readPersisted(JSON.parse(JSON.stringify(status))), later);
    expect(restarted.loops('p', later)).to.deep.equal([]);
  });

  it('keeps a loop this leader marked when an older echo of the status arrives', () => {
    const state = new EvictionState();
    const r = evicted();
    state.record('p', r);
    const echo = readPersisted(JSON.parse(JSON.stringify({ status: { evictions: [r] } })));
    state.markLoop('p', r, { time: at(60).toISOString(), pod: 'web-1-b', digest: d('a') });
    state.observe('p', echo, at(61));
    expect(state.loops('p', at(61))).to.have.length(1);
  });

  it('keeps only the newest looped record of each workload past the window, at most maxLoops', () => {
    const state = new EvictionState();
    for (let i = 0; i < maxLoops + 5; i++) {
      const r: EvictionRecord = {
        ...evicted(predicted(), at(i), `p${String(i)}`),
        owner: `Deployment/w${String(i)}`,
      };
      state.record('p', r);
      state.markLoop('p', r, { time: at(i + 1).toISOString(), pod: `q${String(i)}`, digest: d('a') });
    }
    // A looped workload evicted again later (its template changed): only its newest record counts.
    state.record('p', { ...evicted(predicted(), at(500), 'again'), owner: 'Deployment/w104' });
    const records = state.records('p', at(3 * 3600));
    // w0…w103 looped and are the newest of their workload: the newest 100 of them stay.
    expect(records).to.have.length(maxLoops);
    expect(records.some((r) => r.owner === 'Deployment/w104')).to.equal(false);
    expect(records[0]?.pod).to.equal('p4');
  });

  it('reads a malformed prediction as none and a malformed loop mark as a loop', () => {
    const p = readPersisted({
      status: {
        evictions: [
          {
            time: t0.toISOString(),
            namespace: 's',
            pod: 'a',
            owner: 'Deployment/w',
            predicted: { controller: 7 },
          },
          {
            time: t0.toISOString(),
            namespace: 's',
            pod: 'b',
            owner: 'Deployment/w',
            predicted: {
              controller: 'ReplicaSet/w-1',
              generation: 3,
              reasons: ['B', 'A', 5],
              images: [{ container: 'app' }, 'x'],
            },
            loop: 'yes',
          },
        ],
      },
    });
    expect(p.evictions[0]?.predicted).to.equal(undefined);
    expect(p.evictions[1]?.predicted).to.deep.equal({
      controller: 'ReplicaSet/w-1',
      generation: 3,
      reasons: ['A', 'B'],
      images: [],
    });
    expect(p.evictions[1]?.loop?.pod).to.equal('');
  });
});
