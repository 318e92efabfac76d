/**
 * RelatedDigests against registries that answer and one that does not: an
 * unreachable registry is `failed` (Unknown to the policy), never `none`
 * or a stale guess, and the pods that asked are woken again when the retry
 * is due, since nothing else would re-judge them.
 */
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { Logger } from '../../../src/operator/kube/logger.js';
import { RelatedDigests } from '../../../src/operator/evidence/related-digests.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { pushRandomImage, pushRandomIndex, randomRepo } from '../../support/images.js';
import { eventually } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

/** `eventually` for a synchronous probe. */
const when = <T>(what: string, probe: () => T | undefined): Promise<T> =>
  eventually(what, () => Promise.resolve(probe()));

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

describe('operator: related digests', function () {
  this.timeout(30_000);
  const woken: string[][] = [];
  let client: RegistryClient;
  let related: RelatedDigests;

  beforeEach(() => {
    woken.length = 0;
    client = new RegistryClient({ plainHttpRegistries: [testEnv().registry, '127.0.0.1:1'] });
    related = new RelatedDigests({
      client,
      logger: quiet,
      active: () => true,
      retryMs: 300,
      onResolved: (w) => woken.push([...w]),
    });
  });

  afterEach(async () => {
    related.stop();
    await client.close();
  });

  it('finds an index from its tag, its platform manifests, and knows a single-platform tag has no index', async () => {
    const repo = randomRepo('related');
    const { index, platforms } = await pushRandomIndex(testEnv().registry, repo, 'v1');
    const single = await pushRandomImage(testEnv().registry, repo, { tag: 'single' });
    const r = { registry: testEnv().registry, repository: repo };
    const amd64 = platforms[0]?.digest as Digest;
    expect(related.indexFor(r, 'v1', amd64, 'pod-a')).to.equal('pending');
    await when('index resolved', () => (woken.length > 0 ? true : undefined));
    expect(woken[0]).to.deep.equal(['pod-a']);
    expect(related.indexFor(r, 'v1', amd64, 'pod-a')).to.equal(index.digest);
    // The tag does not list this digest (it moved): unresolved, not none.
    expect(related.indexFor(r, 'v1', single.digest as Digest, 'pod-b')).to.equal('unresolved');

    expect(related.platformsOf(r, index.digest as Digest, 'pod-c')).to.equal('pending');
    await when('platforms', () => {
      const p = related.platformsOf(r, index.digest as Digest, 'pod-c');
      return typeof p === 'string' ? undefined : p;
    });
    expect(related.platformsOf(r, index.digest as Digest, 'pod-c')).to.deep.equal(
      platforms.map((p) => p.digest),
    );

    related.indexFor(r, 'single', single.digest as Digest, 'pod-d');
    await when('single resolved', () =>
      related.indexFor(r, 'single', single.digest as Digest, 'pod-d') === 'none' ? true : undefined,
    );
  });

  it('reports an unreachable registry as failed and wakes the waiting pods again when the retry is due', async () => {
    const down = { registry: '127.0.0.1:1', repository: 'app' };
    const digest = `sha256:${'ab'.repeat(32)}` as Digest;
    expect(related.indexFor(down, 'v1', digest, 'pod-a')).to.equal('pending');
    await when('failure reported', () => (woken.length >= 1 ? true : undefined));
    expect(related.indexFor(down, 'v1', digest, 'pod-a')).to.equal('failed');
    // Woken once when the fetch failed, and again when the retry is due.
    await when('woken for the retry', () => (woken.length >= 2 ? true : undefined));
    expect(woken[1]).to.deep.equal(['pod-a']);
  });

  describe('when tags move (issue 22)', () => {
    /** A RelatedDigests with a short tag TTL and an immediate re-read on an unknown digest. */
    const fast = (): RelatedDigests =>
      new RelatedDigests({
        client,
        logger: quiet,
        active: () => true,
        tagTtlMs: 400,
        mismatchRereadMs: 0,
        onResolved: (w) => woken.push([...w]),
      });

    it('keeps what a tag named: a single-platform digest stays without an index, a platform manifest keeps its index', async () => {
      related.stop();
      related = fast();
      const repo = randomRepo('moved');
      const r = { registry: testEnv().registry, repository: repo };
      const first = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      const { index, platforms } = await pushRandomIndex(testEnv().registry, repo, 'multi');
      const amd64 = platforms[0]?.digest as Digest;
      await when('v1 read', () =>
        related.indexFor(r, 'v1', first.digest as Digest, 'pod-a') === 'none' ? true : undefined,
      );
      await when('multi read', () =>
        related.indexFor(r, 'multi', amd64, 'pod-b') === index.digest ? true : undefined,
      );
      // Both tags move to a new single-platform image.
      const moved = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      await pushRandomImage(testEnv().registry, repo, { tag: 'multi' });
      await when('v1 re-read', () => {
        const t = related.tagTarget(r, 'v1', 'pod-a');
        return typeof t !== 'string' && t.digest === moved.digest ? true : undefined;
      });
      await when('multi re-read', () => {
        const t = related.tagTarget(r, 'multi', 'pod-b');
        return typeof t !== 'string' && t.listed.length === 0 ? true : undefined;
      });
      // Content-addressed facts outlive the tags: no Unknown for what was known.
      expect(related.indexFor(r, 'v1', first.digest as Digest, 'pod-a')).to.equal('none');
      expect(related.indexFor(r, 'multi', amd64, 'pod-b')).to.equal(index.digest);
      // A digest the tag never named is not given a relation (re-read first, then unresolved: never none).
      const stranger = `sha256:${'cd'.repeat(32)}` as Digest;
      expect(['pending', 'unresolved']).to.include(related.indexFor(r, 'v1', stranger, 'pod-c'));
    });

    it('re-reads a cached tag at once for a pod that runs a digest the cached answer does not know', async () => {
      const repo = randomRepo('stale');
      const r = { registry: testEnv().registry, repository: repo };
      const old = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      // The default 5-minute TTL: only the mismatch can cause a re-read within this test.
      related.stop();
      related = new RelatedDigests({
        client,
        logger: quiet,
        active: () => true,
        mismatchRereadMs: 0,
        onResolved: (w) => woken.push([...w]),
      });
      await when('v1 read', () =>
        related.indexFor(r, 'v1', old.digest as Digest, 'pod-a') === 'none' ? true : undefined,
      );
      const current = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      // A new pod runs what the tag names now; the cache still says `old`.
      expect(related.indexFor(r, 'v1', current.digest as Digest, 'pod-new')).to.equal('pending');
      await when('pod-new woken', () => (woken.some((w) => w.includes('pod-new')) ? true : undefined));
      expect(related.indexFor(r, 'v1', current.digest as Digest, 'pod-new')).to.equal('none');
    });

    it('re-reads a tag on its own schedule and re-judges the pods that asked only when it moved', async () => {
      related.stop();
      related = fast();
      const repo = randomRepo('schedule');
      const r = { registry: testEnv().registry, repository: repo };
      await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      await when('v1 read', () =>
        typeof related.tagTarget(r, 'v1', 'pod-a') !== 'string' ? true : undefined,
      );
      related.tagTarget(r, 'v1', 'pod-b');
      woken.length = 0;
      // Several TTLs pass with the tag unmoved and the pods asking: nobody is woken.
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        related.tagTarget(r, 'v1', 'pod-a');
      }
      expect(woken).to.deep.equal([]);
      const moved = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      // No pod asks again: the scheduled re-read finds the move and wakes those that asked.
      const wake = await when('woken by the re-read', () => woken.find((w) => w.includes('pod-a')));
      expect(wake).to.include('pod-a');
      const t = related.tagTarget(r, 'v1', 'pod-a');
      expect(typeof t === 'string' ? t : t.digest).to.equal(moved.digest);
    });

    it('keeps re-reading on schedule while a pod that asked lives, and wakes it when the tag moves after unchanged re-reads', async () => {
      related.stop();
      const alive = new Set(['pod-a']);
      related = new RelatedDigests({
        client,
        logger: quiet,
        active: () => true,
        tagTtlMs: 300,
        onResolved: (w) => woken.push([...w]),
        alive: (k) => alive.has(k),
      });
      const repo = randomRepo('alive');
      const r = { registry: testEnv().registry, repository: repo };
      await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      await when('v1 read', () =>
        typeof related.tagTarget(r, 'v1', 'pod-a') !== 'string' ? true : undefined,
      );
      woken.length = 0;
      // Several schedules pass without any ask and without a move: nobody is woken, the schedule goes on.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(woken).to.deep.equal([]);
      const moved = await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      await when('woken by a later re-read', () => woken.find((w) => w.includes('pod-a')));
      const t = related.tagTarget(r, 'v1', 'pod-a');
      expect(typeof t === 'string' ? t : t.digest).to.equal(moved.digest);
      // Once the pod is gone the schedule ends: a later move wakes nobody.
      alive.delete('pod-a');
      await new Promise((resolve) => setTimeout(resolve, 700));
      woken.length = 0;
      await pushRandomImage(testEnv().registry, repo, { tag: 'v1' });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(woken).to.deep.equal([]);
    });

    it("never applies what another repository's tag named: relations belong to the tag that showed them", async () => {
      related.stop();
      related = fast();
      const mine = randomRepo('mine');
      const theirs = randomRepo('theirs');
      const single = await pushRandomImage(testEnv().registry, mine, { tag: 'v1' });
      const m = { registry: testEnv().registry, repository: mine };
      const t = { registry: testEnv().registry, repository: theirs };
      await when('mine read', () =>
        related.indexFor(m, 'v1', single.digest as Digest, 'pod-a') === 'none' ? true : undefined,
      );
      // Another repository's tag says nothing of this digest: its own tag does not list it either.
      await pushRandomImage(testEnv().registry, theirs, { tag: 'v1' });
      await when('theirs read', () =>
        typeof related.tagTarget(t, 'v1', 'pod-b') !== 'string' ? true : undefined,
      );
      expect(['pending', 'unresolved']).to.include(
        related.indexFor(t, 'v1', single.digest as Digest, 'pod-b'),
      );
      // And the same digest under its own tag keeps its relation.
      expect(related.indexFor(m, 'v1', single.digest as Digest, 'pod-a')).to.equal('none');
    });
  });
});
