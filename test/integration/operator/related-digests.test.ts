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
});
