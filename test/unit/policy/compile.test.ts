import { expect } from 'chai';
import type { ReadyPolicy } from '../../../src/policy/compile.js';
import { policyMatches } from '../../../src/policy/evaluate.js';
import { matchesIdentity } from '../../../src/verify/identity.js';
import { testKey } from '../../support/evidence-builder.js';
import { compile, keyAuthority, ready, trustMaterial } from './policy-fixtures.js';

describe('compilePolicy', () => {
  const key = testKey();
  const other = testKey();
  const base = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    match: { images: ['registry.example/**'] },
    authorities: [keyAuthority('release', key)],
    ...extra,
  });
  const cacheKeys = (p: ReadyPolicy): string[] => p.authorities.map((a) => a.cacheKey);

  it('gives equal authorities equal cache keys across policies and generations', () => {
    expect(cacheKeys(ready(base(), 'a', 1))).to.deep.equal(cacheKeys(ready(base(), 'b', 7)));
  });

  it('gives different keys, names, log requirements and trust generations different cache keys', () => {
    const reference = cacheKeys(ready(base()))[0];
    const variants = [
      ready(base({ authorities: [keyAuthority('release', other)] })),
      ready(base({ authorities: [keyAuthority('renamed', key)] })),
      ready(base({ authorities: [{ ...keyAuthority('release', key), requireTransparencyLog: true }] })),
      ready(base(), 'p', 1, trustMaterial({ generation: 2 })),
    ];
    for (const v of variants) expect(cacheKeys(v)[0]).not.to.equal(reference);
  });

  it('finding 10: compiles keyless.issuerRegExp to an RE2 issuer matcher, with its own cache key', () => {
    const keyless = (k: Record<string, unknown>): Record<string, unknown> =>
      base({ authorities: [{ name: 'ci', keyless: { subject: 's', ...k } }] });
    const [pattern] = ready(keyless({ issuerRegExp: '^https://gitlab\\.(com|example\\.org)$' })).authorities;
    const issuer = pattern?.authority.kind === 'keyless' ? pattern.authority.issuer : undefined;
    expect(issuer?.kind).to.equal('regexp');
    expect(issuer !== undefined && matchesIdentity(issuer, 'https://gitlab.example.org')).to.equal(true);
    expect(issuer !== undefined && matchesIdentity(issuer, 'https://gitlab.example.org.evil')).to.equal(
      false,
    );
    const [exact] = ready(keyless({ issuer: '^https://gitlab\\.(com|example\\.org)$' })).authorities;
    expect(exact?.authority.kind === 'keyless' && exact.authority.issuer.kind).to.equal('exact');
    expect(exact?.cacheKey).not.to.equal(pattern?.cacheKey);
  });

  it('keys the policy by name, generation and trust generation', () => {
    expect(ready(base(), 'prod', 3, trustMaterial({ generation: 9 })).key).to.equal('prod@3#9');
  });

  it('reports a trustedRootRef that names no loaded root, with its path', () => {
    const p = compile(
      base({
        authorities: [
          { name: 'ci', keyless: { issuer: 'https://i', subject: 's', trustedRootRef: { name: 'corp' } } },
        ],
      }),
    );
    expect(p.ready).to.equal(false);
    if (p.ready) return;
    expect(p.problems.map((x) => [x.path, x.code])).to.deep.equal([
      ['spec.authorities[0].keyless.trustedRootRef', 'ReferenceNotFound'],
    ]);
    // Not ready, but still claiming its images so they are held as Unknown rather than unmatched.
    expect(policyMatches(p, 'registry.example/app')).to.equal(true);
  });

  it('reports a Secret that holds no public key', () => {
    const trust = trustMaterial({ secretKeys: new Map([['s/k', 'not a key']]) });
    const p = compile(
      base({ authorities: [{ name: 'k', key: { secretRef: { name: 's', key: 'k' } } }] }),
      'p',
      1,
      trust,
    );
    expect(p.ready ? [] : p.problems.map((x) => x.code)).to.deep.equal(['InvalidPublicKey']);
  });

  it('keeps the globs of an invalid spec when they compile, and none otherwise', () => {
    const invalid = compile({ ...base(), mode: 'Sometimes' });
    expect(invalid.ready).to.equal(false);
    expect(policyMatches(invalid, 'registry.example/app')).to.equal(true);
    expect(policyMatches(compile({ match: 'everything' }), 'registry.example/app')).to.equal(false);
  });

  it('a policy refused only for a non-canonical glob still claims what its canonical spelling names (Unknown, not Unmatched)', () => {
    const spelled = compile({
      ...base(),
      match: { images: ['GHCR.IO:443/org/**', 'registry-1.docker.io/library/nginx'] },
    });
    expect(spelled.ready ? [] : spelled.problems.map((x) => x.code)).to.include('NonCanonicalGlob');
    expect(policyMatches(spelled, 'ghcr.io/org/app')).to.equal(true);
    expect(policyMatches(spelled, 'docker.io/library/nginx:1.27')).to.equal(true);
    expect(policyMatches(spelled, 'quay.io/org/app')).to.equal(false);
  });

  it('needs the .att tags only for attestation or SBOM rules', () => {
    expect(ready(base()).needsAttestations).to.equal(false);
    expect(ready(base({ sbom: { required: true } })).needsAttestations).to.equal(true);
    expect(ready(base({ sbom: { deny: { licenses: ['GPL-3.0-only'] } } })).needsAttestations).to.equal(true);
    expect(ready(base({ attestations: [{ name: 'v', predicateType: 'vuln' }] })).needsAttestations).to.equal(
      true,
    );
  });

  it('resolves predicate shortcuts and ranges once', () => {
    const p = ready(
      base({
        attestations: [{ name: 'prov', predicateType: 'slsaprovenance1' }],
        sbom: { maxAge: '24h', deny: { packages: [{ purl: 'pkg:pypi/django', versions: '<4.2' }] } },
      }),
    );
    expect(p.attestations[0]?.predicateType).to.equal('https://slsa.dev/provenance/v1');
    expect(p.sbom.maxAgeMs).to.equal(24 * 3600 * 1000);
    expect(p.sbom.packages[0]?.range).to.deep.include({ kind: 'anyOf', scheme: 'pypi' });
  });
});
