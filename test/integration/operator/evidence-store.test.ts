/**
 * The evidence store against the real registry, counted by a proxy: one
 * fetch per digest however many pods ask, the same evidence object when a
 * refresh finds nothing new, retries with backoff while the registry is
 * down, and no registry traffic at all from a replica that is not leading.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
import { attest, generateKeyPair, sign } from '../../support/cosign.js';

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
let predicateDir: string | undefined;
async function predicateFile(): Promise<string> {
  predicateDir ??= await mkdtemp(join(tmpdir(), 'sigwatch-store-'));
  const path = join(predicateDir, 'predicate.json');
  await writeFile(path, JSON.stringify({ note: 'steady-state test' }));
  return path;
}

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
    expect(proxy.requests.length).to.be.greaterThan(0).and.lessThan(10);
    proxy.reset();
    s.refreshAll();
    await eventually('second fetch', () => Promise.resolve(proxy.requests.length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(s.get(evidenceKeyString(key))).to.equal(first);
    expect(changes).to.have.length(1);
    // Steady state (design §7): at most 4 requests per digest, no manifest or blob GETs.
    const steady = proxy.requests.map((r) => `${r.method} ${r.path.replace(/sha256[:-][0-9a-f]{64}/g, 'D')}`);
    expect(steady.length, steady.join(', ')).to.be.at.most(4);
    expect(
      steady.filter((r) => /^GET .*\/(manifests|blobs)\//.test(r)),
      steady.join(', '),
    ).to.deep.equal([]);
  });

  it('refreshes signed and attested evidence with 4 requests and no manifest or blob GET', async () => {
    const key = await image();
    const cosignKey = await generateKeyPair();
    const ref = `${testEnv().registry}/${key.repository}@${key.digest}`;
    await sign(ref, cosignKey, 'legacy');
    await attest(ref, cosignKey, 'legacy', 'custom', await predicateFile());
    await sign(ref, cosignKey, 'bundle');
    const { store: s } = store({ jitter: 0 });
    const withAtt = { ...needs, attestations: true };
    s.track(key, withAtt);
    const first = await eventually('first fetch', () => Promise.resolve(s.get(evidenceKeyString(key))));
    expect([first.signatures.length, first.attestations.length, first.bundles.length]).to.deep.equal([
      1, 1, 1,
    ]);
    proxy.reset();
    s.refreshAll();
    await eventually('refresh', () => Promise.resolve(proxy.requests.length >= 4 ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const steady = proxy.requests.map((r) => `${r.method} ${r.path.replace(/sha256[:-][0-9a-f]{64}/g, 'D')}`);
    expect(steady.sort()).to.deep.equal(
      [
        `HEAD /v2/${key.repository}/manifests/D`,
        `HEAD /v2/${key.repository}/manifests/D.sig`,
        `HEAD /v2/${key.repository}/manifests/D.att`,
        `GET /v2/${key.repository}/referrers/D`,
      ].sort(),
    );
    expect(s.get(evidenceKeyString(key))).to.equal(first);
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
