import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { AttestationLayer, Evidence, SourceStatus } from '../../../src/registry/evidence.js';
import { checkAttestation, collectVerifiedAttestations } from '../../../src/verify/attestations.js';
import type { Authority } from '../../../src/verify/authority.js';
import { attestationLayer } from '../../support/evidence-builder.js';

const now = new Date('2026-06-01T00:00:00Z');
const hex = 'ab'.repeat(32);
const digest = `sha256:${hex}` as Digest;
const repository = 'registry.example/app';

const keyAuthority = (name: string, publicKey: KeyObject): Authority => ({
  kind: 'key',
  name,
  publicKey,
  requireTransparencyLog: false,
});

/** A key-signed `.att` layer over an in-toto v1 statement about `subjectHex`. */
function layer(privateKey: KeyObject, predicateType: string, subjectHex = hex): AttestationLayer {
  const signer = { privateKey, publicKeyPem: '' };
  return attestationLayer(signer, repository, `sha256:${subjectHex}` as Digest, predicateType, {});
}

const answered = (item: SourceStatus['item'], outcome: SourceStatus['outcome']): SourceStatus => ({
  repository,
  item,
  outcome,
});

function evidence(attestations: AttestationLayer[], overrides: Partial<Evidence> = {}): Evidence {
  return {
    repository,
    digest,
    fetchedAt: now,
    imageSeen: true,
    signatures: [],
    attestations,
    bundles: [],
    sboms: [],
    sources: [answered('image', 'found'), answered('sig', 'absent'), answered('att', 'found')],
    complete: true,
    limitExceeded: false,
    ...overrides,
  };
}

describe('verify/attestations', () => {
  const ours = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const theirs = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const authorities = [keyAuthority('ours', ours.publicKey)];
  const judge = (ev: Evidence, required: string): ReturnType<typeof checkAttestation> => {
    const { verified, rejected } = collectVerifiedAttestations(ev, authorities, now);
    return checkAttestation(ev, verified, rejected, required);
  };

  it('collects verified statements with their predicate type and authority', () => {
    const ev = evidence([layer(ours.privateKey, 'https://slsa.dev/provenance/v1')]);
    const { verified, rejected } = collectVerifiedAttestations(ev, authorities, now);
    expect(rejected).to.deep.equal([]);
    expect(verified.map((v) => [v.authority, v.format, v.predicateType])).to.deep.equal([
      ['ours', 'legacy', 'https://slsa.dev/provenance/v1'],
    ]);
  });

  it('resolves shortcuts and matches SBOM types by prefix', () => {
    const ev = evidence([
      layer(ours.privateKey, 'https://spdx.dev/Document/v2.3'),
      layer(ours.privateKey, 'https://cosign.sigstore.dev/attestation/vuln/v1'),
    ]);
    expect(judge(ev, 'spdxjson').verdict).to.equal('Compliant');
    expect(judge(ev, 'vuln').verdict).to.equal('Compliant');
    const cyclonedx = judge(ev, 'cyclonedx');
    expect(cyclonedx.verdict === 'NonCompliant' && cyclonedx.reasons).to.deep.equal(['AttestationMissing']);
  });

  it('an attestation by another key is rejected (KeyMismatch) and makes the check AttestationInvalid', () => {
    const ev = evidence([layer(theirs.privateKey, 'https://slsa.dev/provenance/v0.2')]);
    const { verified, rejected } = collectVerifiedAttestations(ev, authorities, now);
    expect(verified).to.deep.equal([]);
    expect(rejected.map((r) => r.reason)).to.deep.equal(['KeyMismatch']);
    const check = checkAttestation(ev, verified, rejected, 'slsaprovenance');
    expect(check.verdict === 'NonCompliant' && check.reasons).to.deep.equal(['AttestationInvalid']);
  });

  it('a statement about another digest is rejected with DigestMismatch', () => {
    const ev = evidence([layer(ours.privateKey, 'https://slsa.dev/provenance/v1', 'ef'.repeat(32))]);
    expect(collectVerifiedAttestations(ev, authorities, now).rejected.map((r) => r.reason)).to.deep.equal([
      'DigestMismatch',
    ]);
  });

  it('a valid attestation satisfies the check even when other sources did not answer', () => {
    const ev = evidence([layer(ours.privateKey, 'https://slsa.dev/provenance/v1')], {
      complete: false,
      sources: [
        answered('image', 'found'),
        answered('att', 'found'),
        { ...answered('referrers', 'error'), reason: 'RegistryUnavailable' },
      ],
    });
    expect(judge(ev, 'slsaprovenance1').verdict).to.equal('Compliant');
  });

  it('incomplete evidence is Unknown with the sources reasons, never AttestationMissing', () => {
    const ev = evidence([], {
      complete: false,
      sources: [answered('image', 'found'), { ...answered('att', 'error'), reason: 'RateLimited' }],
    });
    const check = judge(ev, 'slsaprovenance');
    expect(check.verdict === 'Unknown' && check.reasons).to.deep.equal(['RateLimited']);
  });

  it('evidence collected without attestations (no att source) is Unknown EvidenceIncomplete', () => {
    const ev = evidence([], { sources: [answered('image', 'found'), answered('sig', 'absent')] });
    const check = judge(ev, 'slsaprovenance');
    expect(check.verdict === 'Unknown' && check.reasons).to.deep.equal(['EvidenceIncomplete']);
  });

  it('a bundle that is not JSON is rejected as AttestationInvalid without throwing', () => {
    const ev = evidence([], {
      bundles: [
        {
          repository,
          manifestDigest: `sha256:${'12'.repeat(32)}` as Digest,
          via: 'api',
          mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
          bundle: Buffer.from('not json'),
          annotations: {},
        },
      ],
    });
    expect(collectVerifiedAttestations(ev, authorities, now).rejected.map((r) => r.reason)).to.deep.equal([
      'AttestationInvalid',
    ]);
  });
});
