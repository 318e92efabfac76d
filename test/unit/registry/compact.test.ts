import { createPublicKey, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { compactEvidence } from '../../../src/registry/compact.js';
import type { BundleReferrer } from '../../../src/registry/evidence.js';
import { collectVerifiedAttestations } from '../../../src/verify/attestations.js';
import { attestationLayer, buildEvidence, randomDigest, testKey } from '../../support/evidence-builder.js';
import { spdx } from '../../support/sbom-documents.js';

const repository = 'registry.example/app';
const digest = randomDigest();
const key = testKey();
const packages = Array.from({ length: 300 }, (_, i) => ({
  name: `lib-${String(i)}`,
  version: `1.${String(i % 7)}.0`,
  purl: `pkg:npm/lib-${String(i)}@1.${String(i % 7)}.0`,
  license: 'MIT',
}));
const large = attestationLayer(key, repository, digest, 'https://spdx.dev/Document', spdx(packages));
const small = attestationLayer(key, repository, digest, 'https://spdx.dev/Document', spdx([]));
const bundle = (bytes: Uint8Array): BundleReferrer => ({
  repository,
  manifestDigest: randomDigest(),
  via: 'api',
  mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  bundle: bytes,
  annotations: {},
});

describe('registry/compact', () => {
  it('keeps a large envelope deflated and reads back exactly its bytes', () => {
    const original = Buffer.from(large.envelope);
    const [compacted] = compactEvidence(
      buildEvidence({ repository, digest, attestations: [large] }),
    ).attestations;
    expect(compacted).to.not.equal(large);
    expect(Buffer.from(compacted?.envelope ?? [])).to.deep.equal(original);
    // Other fields travel unchanged.
    expect(compacted?.manifestDigest).to.equal(large.manifestDigest);
    expect(compacted?.annotations).to.deep.equal(large.annotations);
  });

  it('verifies a compacted attestation exactly as the original', () => {
    const authority = {
      kind: 'key',
      name: 'k',
      publicKey: createPublicKey(key.publicKeyPem),
      requireTransparencyLog: false,
    } as const;
    const evidence = buildEvidence({ repository, digest, attestations: [large] });
    const now = new Date('2026-06-01T00:00:00Z');
    const before = collectVerifiedAttestations(evidence, [authority], now);
    const after = collectVerifiedAttestations(compactEvidence(evidence), [authority], now);
    expect(before.verified).to.have.length(1);
    expect(after).to.deep.equal(before);
  });

  it('hands out a fresh copy on every read: a caller that alters it changes nothing', () => {
    const [compacted] = compactEvidence(
      buildEvidence({ repository, digest, attestations: [large] }),
    ).attestations;
    const first = compacted?.envelope ?? new Uint8Array();
    first.fill(0);
    expect(Buffer.from(compacted?.envelope ?? [])).to.deep.equal(Buffer.from(large.envelope));
  });

  it('leaves small and incompressible byte arrays as they are', () => {
    const noise = randomBytes(64 * 1024);
    const evidence = {
      ...buildEvidence({ repository, digest, attestations: [small] }),
      bundles: [bundle(noise)],
    };
    const compacted = compactEvidence(evidence);
    expect(compacted.attestations[0]).to.equal(small);
    expect(compacted.bundles[0]).to.equal(evidence.bundles[0]);
  });

  it('compacts large bundles too, and never compacts a layer twice (a refresh reuses them)', () => {
    const text = Buffer.from(JSON.stringify({ dsseEnvelope: large.envelope.toString() }));
    const once = compactEvidence({ ...buildEvidence({ repository, digest }), bundles: [bundle(text)] });
    expect(Buffer.from(once.bundles[0]?.bundle ?? [])).to.deep.equal(text);
    const twice = compactEvidence(once);
    expect(twice.bundles[0]).to.equal(once.bundles[0]);
  });
});
