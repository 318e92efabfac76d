/**
 * Issue 14 finding 3 as a pure rule: content the registry served completely
 * is a definite answer (over the limits, or a tag holding something else),
 * while a source that did not answer keeps the verdict Unknown.
 */
import { expect } from 'chai';
import { createPublicKey } from 'node:crypto';
import type { SourceStatus } from '../../../src/registry/evidence.js';
import { checkAttestation } from '../../../src/verify/attestations.js';
import type { Authority } from '../../../src/verify/authority.js';
import { checkImageSignatures } from '../../../src/verify/image-signatures.js';
import { buildEvidence, randomDigest, signatureLayer, testKey } from '../../support/evidence-builder.js';

const repository = 'registry.example/shop/cart';
const digest = randomDigest();
const key = testKey();
const authority: Authority = {
  kind: 'key',
  name: 'release',
  publicKey: createPublicKey(key.publicKeyPem),
  requireTransparencyLog: false,
};

function sources(
  overrides: Partial<Record<'sig' | 'att' | 'referrers', Partial<SourceStatus>>>,
): SourceStatus[] {
  return [
    { repository, item: 'image', outcome: 'found' },
    ...(['sig', 'att', 'referrers'] as const).map((item): SourceStatus => ({
      repository,
      item,
      outcome: 'absent',
      ...overrides[item],
    })),
  ];
}

const reasonsOf = (c: { verdict: string; reasons?: readonly string[] }): readonly string[] => c.reasons ?? [];

describe('verify: finding 3, served-but-unusable evidence is definite', () => {
  it('finding 3: a .sig tag holding an index → SignatureInvalid (NonCompliant)', () => {
    const ev = buildEvidence({
      repository,
      digest,
      sources: sources({ sig: { outcome: 'found', invalid: 'holds an image index' } }),
    });
    const c = checkImageSignatures(ev, [authority], new Date());
    expect(c.verdict).to.equal('NonCompliant');
    expect(reasonsOf(c)).to.deep.equal(['SignatureInvalid']);
  });

  it('finding 3: signatures over the limits with none valid → EvidenceLimitExceeded (NonCompliant)', () => {
    const other = testKey();
    const ev = buildEvidence({
      repository,
      digest,
      signatures: [signatureLayer(other, repository, digest)],
      sources: sources({ sig: { outcome: 'found', omitted: 1 } }),
    });
    const c = checkImageSignatures(ev, [authority], new Date());
    expect(c.verdict).to.equal('NonCompliant');
    expect(reasonsOf(c)).to.deep.equal(['EvidenceLimitExceeded']);
    expect(ev.limitExceeded).to.equal(true);
  });

  it('finding 3: one valid signature among the judged ones is enough, whatever was left out', () => {
    const ev = buildEvidence({
      repository,
      digest,
      signatures: [signatureLayer(key, repository, digest)],
      sources: sources({
        sig: { outcome: 'found', omitted: 5_000 },
        referrers: { outcome: 'found', omitted: 9 },
      }),
    });
    expect(checkImageSignatures(ev, [authority], new Date()).verdict).to.equal('Compliant');
  });

  it('finding 3: over the limits but another source did not answer → still Unknown', () => {
    const ev = buildEvidence({
      repository,
      digest,
      sources: sources({
        sig: { outcome: 'found', omitted: 1 },
        referrers: { outcome: 'error', reason: 'RegistryUnavailable' },
      }),
    });
    const c = checkImageSignatures(ev, [authority], new Date());
    expect(c.verdict).to.equal('Unknown');
    expect(reasonsOf(c)).to.deep.equal(['RegistryUnavailable']);
  });

  it('finding 3: attestations: an index at .att → AttestationInvalid; referrers over the limits → EvidenceLimitExceeded', () => {
    const invalid = buildEvidence({
      repository,
      digest,
      sources: sources({ att: { outcome: 'found', invalid: 'holds an image index' } }),
    });
    expect(reasonsOf(checkAttestation(invalid, [], [], 'slsaprovenance'))).to.deep.equal([
      'AttestationInvalid',
    ]);
    const limited = buildEvidence({
      repository,
      digest,
      sources: sources({ referrers: { outcome: 'found', omitted: 3 } }),
    });
    const c = checkAttestation(limited, [], [], 'slsaprovenance');
    expect(c.verdict).to.equal('NonCompliant');
    expect(reasonsOf(c)).to.deep.equal(['EvidenceLimitExceeded']);
  });

  it('finding 3: a .sbom attachment over the limits decides nothing', () => {
    const ev = buildEvidence({
      repository,
      digest,
      sources: [...sources({}), { repository, item: 'sbom', outcome: 'found', omitted: 4 }],
    });
    expect(reasonsOf(checkImageSignatures(ev, [authority], new Date()))).to.deep.equal(['SignatureMissing']);
    expect(ev.limitExceeded).to.equal(false);
  });
});
