/**
 * The evidence store against the real registry, counted by a proxy: one
 * fetch per digest however many pods ask, the same evidence object when a
 * refresh finds nothing new, retries with backoff while the registry is
 * down, and no registry traffic at all from a replica that is not leading.
 */
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import { EvidenceStore, evidenceKeyString, type EvidenceKey } from '../../../src/operator/evidence-store.js';
import type { Logger } from '../../../src/operator/logger.js';
import { RegistryClient } from '../../../src/registry/client.js';
import type { Evidence } from '../../../src/registry/evidence.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { eventually } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
const needs = { attestations: false, extraRepositories: [], intervalMs: 60_000 };

describe('operator evidence store', function () {
  this.timeout(60_000);
  let proxy: CountingProxy;
  let client: RegistryClient;
  const stores: EvidenceStore[] = [];

  before(async () => {
    proxy = await startCountingProxy(testEnv().registry);
    client = new RegistryClient({ plainHttpRegistries: [proxy.address, '127.0.0.1:1'] });
  });
  after(async () => {
    for (const s of stores) s.stop();
    await client.close();
    await proxy.close();
  });

  function store(options: Partial<ConstructorParameters<typeof EvidenceStore>[0]> = {}): {
    store: EvidenceStore;
    changes: string[];
  } {
    const changes: string[] = [];
    const s = new EvidenceStore({ client, logger: quiet, onChange: (id) => changes.push(id), ...options });
    stores.push(s);
    return { store: s, changes };
  }

  async function image(): Promise<EvidenceKey> {
    const img = await pushRandomImage(testEnv().registry, randomRepo('store'));
    const [, ...path] = img.repository.split('/');
    return { registry: proxy.address, repository: path.join('/'), digest: img.digest as Digest };
  }

  it('fetches a digest once however often it is asked for, and keeps the object when nothing changed', async () => {
    const key = await image();
    const { store: s, changes } = store({ jitter: 0 });
    proxy.reset();
    for (let i = 0; i < 50; i++) s.track(key, needs);
    const first = await eventually('first fetch', () => Promise.resolve(s.get(evidenceKeyString(key))));
    expect(changes).to.deep.equal([evidenceKeyString(key)]);
    const requests = proxy.requests.length;
    expect(requests).to.be.greaterThan(0).and.lessThan(10);
    s.refreshAll();
    await eventually('second fetch', () =>
      Promise.resolve(proxy.requests.length > requests ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(s.get(evidenceKeyString(key))).to.equal(first);
    expect(changes).to.have.length(1);
  });

  it('retries a failing registry with backoff and reports the incomplete evidence', async () => {
    const key: EvidenceKey = {
      registry: '127.0.0.1:1',
      repository: 'app',
      digest: `sha256:${'ab'.repeat(32)}` as Digest,
    };
    const { store: s } = store({ retryBaseMs: 100 });
    s.track(key, needs);
    const evidence: Evidence = await eventually('failed fetch', () =>
      Promise.resolve(s.get(evidenceKeyString(key))),
    );
    expect(evidence.complete).to.equal(false);
    expect(evidence.sources.some((src) => src.reason === 'RegistryUnavailable')).to.equal(true);
  });

  it('does no registry I/O while not active (a follower)', async () => {
    const key = await image();
    const { store: s } = store({ active: () => false });
    proxy.reset();
    s.track(key, needs);
    await new Promise((r) => setTimeout(r, 300));
    expect(proxy.requests).to.have.length(0);
    expect(s.get(evidenceKeyString(key))).to.equal(undefined);
  });
});
