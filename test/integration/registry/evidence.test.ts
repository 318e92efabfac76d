/**
 * Evidence collection against the real registries, with signatures written by
 * the real cosign: what each layout looks like to Sigwatch, and how many
 * requests it costs (counted by a proxy, not by Sigwatch's own counters).
 */
import { expect } from 'chai';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Digest } from '../../../src/base/digest.js';
import { RegistryClient, type Repository } from '../../../src/registry/client.js';
import { collectEvidence, type Evidence } from '../../../src/registry/evidence.js';
import { attest, generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { startCountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { testEnv } from '../../support/testenv.js';

const registries = [
  { name: 'olareg (referrers API)', address: (): string => testEnv().registry, referrersApi: true },
  {
    name: 'go-containerregistry (no referrers API)',
    address: (): string => testEnv().legacyRegistry,
    referrersApi: false,
  },
];

function clientFor(...hosts: string[]): RegistryClient {
  return new RegistryClient({ plainHttpRegistries: hosts });
}

const repoOf = (registry: string, repository: string): Repository => ({ registry, repository });

async function collect(
  client: RegistryClient,
  img: PushedImage,
  registry: string,
  repository: string,
  extra: Repository[] = [],
): Promise<Evidence> {
  return collectEvidence(client, {
    image: repoOf(registry, repository),
    digest: img.digest as Digest,
    extraRepositories: extra,
    now: new Date(),
    signal: AbortSignal.timeout(30_000),
  });
}

const payloadDigest = (payload: Uint8Array): string =>
  (
    JSON.parse(new TextDecoder().decode(payload)) as {
      critical: { image: { 'docker-manifest-digest': string } };
    }
  ).critical.image['docker-manifest-digest'];

describe('registry: evidence from real registries and cosign', function () {
  this.timeout(120_000);
  let key: CosignKey;
  let client: RegistryClient;

  before(async () => {
    key = await generateKeyPair();
    client = clientFor(testEnv().registry, testEnv().legacyRegistry);
  });

  after(async () => {
    await client.close();
  });

  for (const r of registries) {
    describe(`on ${r.name}`, () => {
      it('finds nothing on an unsigned image, and says so definitively', async () => {
        const repo = randomRepo();
        const img = await pushRandomImage(r.address(), repo);
        const ev = await collect(client, img, r.address(), repo);
        expect(ev.imageSeen).to.equal(true);
        expect(ev.complete).to.equal(true);
        expect(ev.signatures).to.have.lengthOf(0);
        expect(ev.bundles).to.have.lengthOf(0);
        expect(ev.sources.map((s) => `${s.item}:${s.outcome}`).sort()).to.deep.equal([
          'att:absent',
          'image:found',
          'referrers:absent',
          'sbom:absent',
          'sig:absent',
        ]);
      });

      it('collects a legacy .sig signature naming the digest', async () => {
        const repo = randomRepo();
        const img = await pushRandomImage(r.address(), repo);
        await sign(img.ref, key, 'legacy');
        const ev = await collect(client, img, r.address(), repo);
        expect(ev.complete).to.equal(true);
        expect(ev.signatures).to.have.lengthOf(1);
        const sig = ev.signatures[0];
        expect(sig?.annotations['dev.cosignproject.cosign/signature']).to.be.a('string').and.not.equal('');
        expect(payloadDigest(sig?.payload ?? new Uint8Array())).to.equal(img.digest);
      });

      it(`collects a cosign v3 bundle ${r.referrersApi ? 'through the referrers API' : 'through the sha256-<hex> fallback tag'}`, async () => {
        const repo = randomRepo();
        const img = await pushRandomImage(r.address(), repo);
        await sign(img.ref, key, 'bundle');
        const ev = await collect(client, img, r.address(), repo);
        expect(ev.complete).to.equal(true);
        expect(ev.bundles).to.have.lengthOf(1);
        expect(ev.bundles[0]?.via).to.equal(r.referrersApi ? 'api' : 'fallback-tag');
        expect(ev.bundles[0]?.annotations['dev.sigstore.bundle.predicateType']).to.equal(
          'https://sigstore.dev/cosign/sign/v1',
        );
        const bundle = JSON.parse(new TextDecoder().decode(ev.bundles[0]?.bundle)) as { mediaType: string };
        expect(bundle.mediaType).to.equal('application/vnd.dev.sigstore.bundle.v0.3+json');
      });
    });
  }

  it('collects signatures and attestations stored in another repository (source.repository)', async () => {
    const registry = testEnv().registry;
    const repo = randomRepo();
    const sigRepo = randomRepo('sigwatch-signatures');
    const img = await pushRandomImage(registry, repo);
    await sign(img.ref, key, 'legacy', { repository: `${registry}/${sigRepo}` });
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-att-'));
    await writeFile(join(dir, 'p.json'), JSON.stringify({ builder: { id: 'https://builder.test' } }));
    await attest(img.ref, key, 'legacy', 'slsaprovenance02', join(dir, 'p.json'), {
      repository: `${registry}/${sigRepo}`,
    });

    const alone = await collect(client, img, registry, repo);
    expect(alone.signatures).to.have.lengthOf(0);
    expect(alone.attestations).to.have.lengthOf(0);
    const ev = await collect(client, img, registry, repo, [repoOf(registry, sigRepo)]);
    expect(ev.complete).to.equal(true);
    expect(ev.signatures.map((s) => s.repository)).to.deep.equal([`${registry}/${sigRepo}`]);
    expect(ev.attestations.map((a) => a.repository)).to.deep.equal([`${registry}/${sigRepo}`]);
    expect(ev.attestations[0]?.annotations['predicateType']).to.equal('https://slsa.dev/provenance/v0.2');
  });

  it('is incomplete, never empty-and-complete, when the image manifest is not there', async () => {
    const repo = randomRepo();
    const img = await pushRandomImage(testEnv().registry, repo);
    const other = randomRepo();
    await pushRandomImage(testEnv().registry, other);
    const ev = await collect(client, img, testEnv().registry, other);
    expect(ev.imageSeen).to.equal(false);
    expect(ev.complete).to.equal(false);
  });

  it('costs one request per source for an unsigned image and a few more per signature', async () => {
    const proxy = await startCountingProxy(testEnv().registry);
    const counted = clientFor(proxy.address);
    try {
      const repo = randomRepo();
      const img = await pushRandomImage(proxy.address, repo);
      proxy.reset();
      await collect(counted, img, proxy.address, repo);
      // HEAD image, GET .sig, .att, .sbom, referrers: five requests, no blobs.
      expect(proxy.requests).to.have.lengthOf(5);
      expect(proxy.count('GET', /\/blobs\//)).to.equal(0);

      await sign(`${proxy.address}/${repo}@${img.digest}`, key, 'bundle');
      proxy.reset();
      const ev = await collect(counted, img, proxy.address, repo);
      expect(ev.bundles).to.have.lengthOf(1);
      // + the bundle manifest and its blob.
      expect(proxy.requests).to.have.lengthOf(7);
    } finally {
      await counted.close();
      await proxy.close();
    }
  });
});
