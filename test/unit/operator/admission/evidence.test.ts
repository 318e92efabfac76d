/**
 * What admission evidence answers without a registry. Fetching, the cache of
 * fetched answers (TTL, LRU bound) and the sharing of fetches in flight need
 * a registry: they belong to test/integration, against a real one.
 */
import { expect } from 'chai';
import { AdmissionEvidence } from '../../../../src/operator/admission/evidence.js';
import type { EvidenceKey, EvidenceNeeds } from '../../../../src/operator/evidence/store.js';
import { RegistryClient } from '../../../../src/registry/client.js';
import type { Evidence } from '../../../../src/registry/evidence.js';
import { buildEvidence, randomDigest, signatureLayer, testKey } from '../../../support/evidence-builder.js';
import { keyAuthority, ready } from '../../policy/policy-fixtures.js';

const key = testKey();
// Loopback, on a port nothing listens on: a fetch that should not happen fails at once and stays on this machine.
const registry = '127.0.0.1:9';
const policy = ready({
  match: { images: [`${registry}/**`] },
  authorities: [keyAuthority('release', key)],
  reverifyInterval: '10m',
});

describe('admission evidence', () => {
  let client: RegistryClient;
  beforeEach(() => {
    client = new RegistryClient();
  });
  afterEach(async () => {
    await client.close();
  });

  function setup(held: Evidence | undefined): {
    evidence: AdmissionEvidence;
    asked: [string, number, EvidenceNeeds][];
    lookups: string[];
  } {
    const asked: [string, number, EvidenceNeeds][] = [];
    const lookups: string[] = [];
    const evidence = new AdmissionEvidence({
      client,
      recent: (id, maxAgeMs, needs) => {
        asked.push([id, maxAgeMs, needs]);
        return held;
      },
      onLookup: (source) => lookups.push(source),
    });
    return { evidence, asked, lookups };
  }

  it('answers from the evidence held for running digests, asking for the policies’ interval', async () => {
    const digest = randomDigest();
    const repository = `${registry}/shop/cart`;
    const held = buildEvidence({ repository, digest, signatures: [signatureLayer(key, repository, digest)] });
    const { evidence, asked, lookups } = setup(held);
    const k: EvidenceKey = { registry, repository: 'shop/cart', digest };
    const got = await evidence.evidence(k, [policy], new AbortController().signal);
    expect(got).to.equal(held);
    expect(lookups).to.deep.equal(['memory']);
    expect(asked.map(([id, maxAgeMs, needs]) => [id, maxAgeMs, needs.attestations])).to.deep.equal([
      [`${registry}/shop/cart@${digest}`, 600_000, false],
    ]);
  });

  it('asks for what every policy of the image needs: the shortest interval, attestations, signature repositories', async () => {
    const attesting = ready(
      {
        match: { images: [`${registry}/**`] },
        authorities: [{ ...keyAuthority('release', key), source: { repository: `${registry}/signatures` } }],
        attestations: [{ name: 'sbom', predicateType: 'https://spdx.dev/Document' }],
        reverifyInterval: '5m',
      },
      'attesting',
    );
    const digest = randomDigest();
    const held = buildEvidence({ repository: `${registry}/shop/cart`, digest });
    const { evidence, asked, lookups } = setup(held);
    await evidence.evidence(
      { registry, repository: 'shop/cart', digest },
      [policy, attesting],
      new AbortController().signal,
    );
    expect(lookups).to.deep.equal(['memory']);
    const [, maxAgeMs, needs] = asked[0] ?? [];
    expect(maxAgeMs).to.equal(300_000);
    expect(needs?.attestations).to.equal(true);
    expect(needs?.extraRepositories).to.deep.equal([{ registry, repository: 'signatures' }]);
  });
});
