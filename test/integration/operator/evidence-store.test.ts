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
import { EvidenceStore, evidenceKeyString, type EvidenceKey } from '../../../src/operator/evidence/store.js';
import type { Logger } from '../../../src/operator/kube/logger.js';
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

  describe('finding 6: needs that widen are fetched before the next interval', () => {
    const read = (e: Evidence | undefined, repository: string, item: string): boolean =>
      e?.sources.some((src) => src.repository === repository && src.item === item) === true;

    it('fetches a new source.repository and attestations at once, not at the next interval', async () => {
      const key = await image();
      const id = evidenceKeyString(key);
      const sigs = { registry: proxy.address, repository: `${key.repository}-sigs` };
      const sigsName = `${sigs.registry}/${sigs.repository}`;
      // A long interval: only the widened needs can explain a second fetch within the test.
      const { store: s, changes } = store({ jitter: 0 });
      const slow = { ...needs, intervalMs: 3_600_000 };
      s.track(key, slow);
      const first = await eventually('first fetch', () => Promise.resolve(s.get(id)));
      expect(read(first, sigsName, 'sig')).to.equal(false);
      // Not covered: an audit must not reuse it for these needs.
      const moved = { ...slow, extraRepositories: [sigs] };
      expect(s.recent(id, 600_000, slow)).to.equal(first);
      expect(s.recent(id, 600_000, moved)).to.equal(undefined);
      proxy.reset();
      expect(s.track(key, moved)).to.equal(first);
      const second = await eventually('fetch of the new repository', () =>
        Promise.resolve(read(s.get(id), sigsName, 'sig') ? s.get(id) : undefined),
      );
      expect(
        proxy.count('HEAD', `/v2/${sigs.repository}/manifests/${key.digest.replace(':', '-')}.sig`),
      ).to.equal(1);
      expect(changes).to.deep.equal([id, id]);
      expect(s.recent(id, 600_000, moved)).to.equal(second);
      // Asking again for what was fetched: no further fetch.
      proxy.reset();
      s.track(key, moved);
      await new Promise((r) => setTimeout(r, 300));
      expect(proxy.requests).to.have.length(0);
      // A new attestation rule: the .att tags of both repositories, at once.
      s.track(key, { ...moved, attestations: true });
      const third = await eventually('fetch of the attestations', () =>
        Promise.resolve(read(s.get(id), sigsName, 'att') ? s.get(id) : undefined),
      );
      expect(read(third, `${key.registry}/${key.repository}`, 'att')).to.equal(true);
    });

    it('fetches again when the needs widened while a fetch was under way', async () => {
      const key = await image();
      const id = evidenceKeyString(key);
      const sigs = { registry: proxy.address, repository: `${key.repository}-sigs` };
      const sigsName = `${sigs.registry}/${sigs.repository}`;
      const seen: boolean[] = [];
      const s = new EvidenceStore({
        client,
        logger: quiet,
        jitter: 0,
        onChange: (_, e) => seen.push(read(e, sigsName, 'sig')),
      });
      stores.push(s);
      const slow = { ...needs, intervalMs: 3_600_000 };
      s.track(key, slow);
      // The first fetch starts on the store's zero-delay timer, which fires before this one.
      await new Promise((r) => setTimeout(r, 0));
      expect(s.get(id)).to.equal(undefined);
      s.track(key, { ...slow, extraRepositories: [sigs] });
      await eventually('fetch of the new repository', () =>
        Promise.resolve(read(s.get(id), sigsName, 'sig') ? true : undefined),
      );
      // The first fetch had started with the old needs: the new repository came from the one after it.
      expect(seen).to.deep.equal([false, true]);
    });
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
