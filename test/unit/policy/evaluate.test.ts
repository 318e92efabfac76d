import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import { PolicyEvaluator } from '../../../src/policy/evaluate.js';
import type { CompiledPolicy } from '../../../src/policy/compile.js';
import type { PolicyVerdict } from '../../../src/policy/verdict.js';
import type { Evidence, SourceStatus } from '../../../src/registry/evidence.js';
import {
  attestationLayer,
  buildEvidence,
  randomDigest,
  signatureLayer,
  testKey,
  type TestKey,
} from '../../support/evidence-builder.js';
import { compile, keyAuthority, ready, trustMaterial } from './policy-fixtures.js';
import { cyclonedx, log4j, spdx, type TestPackage } from '../../support/sbom-documents.js';

const now = new Date('2026-06-01T00:00:00Z');
const repository = 'registry.example/shop/cart';
const spdxType = 'https://spdx.dev/Document';
const cdxType = 'https://cyclonedx.org/bom';

describe('policy evaluator', () => {
  const key = testKey();
  const other = testKey();

  const base = (extra: Record<string, unknown> = {}, k: TestKey = key): Record<string, unknown> => ({
    match: { images: ['registry.example/**'] },
    authorities: [keyAuthority('release', k)],
    ...extra,
  });

  function signed(
    digest: Digest = randomDigest(),
    parts: Partial<Parameters<typeof buildEvidence>[0]> = {},
  ): Evidence {
    return buildEvidence({
      repository,
      digest,
      signatures: [signatureLayer(key, repository, digest)],
      ...parts,
    });
  }

  /** Signed evidence with one `.att` layer per predicate. */
  function attested(predicates: readonly [string, unknown][], signer: TestKey = key): Evidence {
    const digest = randomDigest();
    return signed(digest, {
      attestations: predicates.map(([type, predicate]) =>
        attestationLayer(signer, repository, digest, type, predicate),
      ),
    });
  }

  const evaluate = (evidence: Evidence, policy: CompiledPolicy, at = now): PolicyVerdict =>
    new PolicyEvaluator().evaluate(evidence, policy, at);

  describe('signatures', () => {
    it('is Compliant with a signature by the policy key, naming the signer', () => {
      const v = evaluate(signed(), ready(base()));
      expect(v.verdict).to.equal('Compliant');
      expect(v.reasons).to.deep.equal([]);
      expect(v.signers.map((s) => s.authority)).to.deep.equal(['release']);
      expect(v.validUntil).to.equal(undefined);
    });

    it('is SignatureMissing on complete evidence without signatures', () => {
      const v = evaluate(buildEvidence({ repository, digest: randomDigest() }), ready(base()));
      expect([v.verdict, v.reasons]).to.deep.equal(['NonCompliant', ['SignatureMissing']]);
    });

    it('is KeyMismatch for a signature by another key', () => {
      const v = evaluate(signed(), ready(base({}, other)));
      expect([v.verdict, v.reasons]).to.deep.equal(['NonCompliant', ['KeyMismatch']]);
    });

    it('treats authorities as alternatives', () => {
      const policy = ready(base({ authorities: [keyAuthority('old', other), keyAuthority('new', key)] }));
      const v = evaluate(signed(), policy);
      expect(v.verdict).to.equal('Compliant');
      expect(v.signers.map((s) => s.authority)).to.deep.equal(['new']);
    });

    it('is Unknown with the source reason when a source failed and nothing verified', () => {
      const digest = randomDigest();
      const sources: SourceStatus[] = [
        { repository, item: 'image', outcome: 'found' },
        {
          repository,
          item: 'sig',
          outcome: 'error',
          reason: 'RegistryUnavailable',
          message: 'connection refused',
        },
        { repository, item: 'referrers', outcome: 'absent' },
      ];
      const v = evaluate(buildEvidence({ repository, digest, sources }), ready(base()));
      expect([v.verdict, v.reasons]).to.deep.equal(['Unknown', ['RegistryUnavailable']]);
    });

    it('ignores a failed .sbom attachment source: it never decides a verdict', () => {
      const digest = randomDigest();
      const sources: SourceStatus[] = [
        { repository, item: 'image', outcome: 'found' },
        { repository, item: 'sig', outcome: 'absent' },
        { repository, item: 'sbom', outcome: 'error', reason: 'RateLimited' },
        { repository, item: 'referrers', outcome: 'absent' },
      ];
      const v = evaluate(buildEvidence({ repository, digest, sources }), ready(base()));
      expect([v.verdict, v.reasons]).to.deep.equal(['NonCompliant', ['SignatureMissing']]);
    });

    it('turns a log failure under a stale public-good root into TrustMaterialStale', () => {
      const spec = base({ authorities: [{ ...keyAuthority('logged', key), requireTransparencyLog: true }] });
      const fresh = evaluate(signed(), ready(spec));
      expect([fresh.verdict, fresh.reasons]).to.deep.equal(['NonCompliant', ['TransparencyLogMissing']]);
      const stale = trustMaterial();
      const staleTrust = trustMaterial({ generation: 2, publicGood: { ...stale.publicGood, stale: true } });
      const v = evaluate(signed(), ready(spec, 'p', 1, staleTrust));
      expect([v.verdict, v.reasons]).to.deep.equal(['Unknown', ['TrustMaterialStale']]);
    });
  });

  describe('finding 6: evidence that did not look where the policy needs', () => {
    const sigRepo = 'registry.example/signatures/cart';
    const moved = (k: TestKey = key): Record<string, unknown> =>
      base({ authorities: [{ ...keyAuthority('release', k), source: { repository: sigRepo } }] });
    /** The sources of a fetch that read the image's repository and, if given, `extra` too. */
    const read = (extra: readonly string[], att = true): SourceStatus[] => [
      { repository, item: 'image', outcome: 'found' },
      ...[repository, ...extra].flatMap((r): SourceStatus[] => [
        { repository: r, item: 'sig', outcome: 'absent' },
        ...(att ? [{ repository: r, item: 'att' as const, outcome: 'absent' as const }] : []),
        { repository: r, item: 'referrers', outcome: 'absent' },
      ]),
    ];

    it('is Unknown, not SignatureMissing or KeyMismatch, before the new source.repository was read', () => {
      const none = evaluate(
        buildEvidence({ repository, digest: randomDigest(), sources: read([]) }),
        ready(moved()),
      );
      expect([none.verdict, none.reasons]).to.deep.equal(['Unknown', ['EvidenceIncomplete']]);
      expect(none.findings[0]?.message).to.equal(`signatures in ${sigRepo} have not been read yet`);
      // A signature by the key the policy no longer names, read before the edit: no KeyMismatch either.
      const old = evaluate(signed(randomDigest(), { sources: read([]) }), ready(moved(other)));
      expect([old.verdict, old.reasons]).to.deep.equal(['Unknown', ['EvidenceIncomplete']]);
    });

    it('is a definite failure once a fetch has read the new repository', () => {
      const none = evaluate(
        buildEvidence({ repository, digest: randomDigest(), sources: read([sigRepo]) }),
        ready(moved()),
      );
      expect([none.verdict, none.reasons]).to.deep.equal(['NonCompliant', ['SignatureMissing']]);
      const old = evaluate(signed(randomDigest(), { sources: read([sigRepo]) }), ready(moved(other)));
      expect([old.verdict, old.reasons]).to.deep.equal(['NonCompliant', ['KeyMismatch']]);
    });

    it('is still Compliant from a valid signature it holds, as incomplete evidence is', () => {
      const v = evaluate(signed(randomDigest(), { sources: read([]) }), ready(moved()));
      expect([v.verdict, v.reasons]).to.deep.equal(['Compliant', []]);
    });

    it('is Unknown, not AttestationMissing, until the .att tags of every repository were read', () => {
      const spec = { ...moved(), attestations: [{ name: 'sbom', predicateType: 'spdxjson' }] };
      // Signatures were read in both repositories, attestations in the image's only (a new repository and a new rule).
      const sources = read([sigRepo], false).concat({ repository, item: 'att', outcome: 'absent' });
      const partial = evaluate(signed(randomDigest(), { sources }), ready(spec));
      expect([partial.verdict, partial.reasons]).to.deep.equal(['Unknown', ['EvidenceIncomplete']]);
      const full = evaluate(signed(randomDigest(), { sources: read([sigRepo]) }), ready(spec));
      expect([full.verdict, full.reasons]).to.deep.equal(['NonCompliant', ['AttestationMissing']]);
    });

    it('never hides an evidence failure it did see behind the unread repository', () => {
      const sources: SourceStatus[] = [
        ...read([]).filter((s) => s.item !== 'referrers'),
        { repository, item: 'referrers', outcome: 'error', reason: 'RateLimited', message: '429' },
      ];
      const v = evaluate(buildEvidence({ repository, digest: randomDigest(), sources }), ready(moved()));
      expect(v.verdict).to.equal('Unknown');
      expect([...v.reasons].sort()).to.deep.equal(['EvidenceIncomplete', 'RateLimited']);
    });
  });

  describe('readiness and exceptions', () => {
    it('answers PolicyNotReady for a key Secret that is not loaded, naming the field', () => {
      const policy = compile(
        base({ authorities: [{ name: 'k', key: { secretRef: { name: 's', key: 'cosign.pub' } } }] }),
      );
      expect(policy.ready).to.equal(false);
      const v = evaluate(signed(), policy);
      expect([v.verdict, v.reasons]).to.deep.equal(['Unknown', ['PolicyNotReady']]);
      expect(v.findings[0]?.message).to.contain('spec.authorities[0].key.secretRef');
    });

    it('resolves a key Secret through the trust material', () => {
      const trust = trustMaterial({ secretKeys: new Map([['s/cosign.pub', key.publicKeyPem]]) });
      const spec = base({
        authorities: [{ name: 'k', key: { secretRef: { name: 's', key: 'cosign.pub' } } }],
      });
      expect(evaluate(signed(), ready(spec, 'p', 1, trust)).verdict).to.equal('Compliant');
    });

    it('exempts until the exception expires, then judges again', () => {
      const expires = '2026-07-01T00:00:00Z';
      const policy = ready(
        base({ exceptions: [{ images: ['registry.example/shop/*'], reason: 'SEC-142', expires }] }),
      );
      const unsigned = buildEvidence({ repository, digest: randomDigest() });
      const before = evaluate(unsigned, policy);
      expect(before.verdict).to.equal('Exempt');
      expect(before.exemptBecause).to.equal('SEC-142');
      expect(before.validUntil?.toISOString()).to.equal(new Date(expires).toISOString());
      const after = evaluate(unsigned, policy, new Date('2026-07-01T00:00:00Z'));
      expect([after.verdict, after.reasons]).to.deep.equal(['NonCompliant', ['SignatureMissing']]);
    });

    it('does not exempt images the exception does not name', () => {
      const policy = ready(
        base({
          exceptions: [
            { images: ['registry.example/legacy/*'], reason: 'r', expires: '2027-01-01T00:00:00Z' },
          ],
        }),
      );
      expect(evaluate(buildEvidence({ repository, digest: randomDigest() }), policy).verdict).to.equal(
        'NonCompliant',
      );
    });
  });

  describe('several policies', () => {
    it('requires every matching policy to pass, and ignores policies that do not match', () => {
      const evaluator = new PolicyEvaluator();
      const pass = ready(base(), 'pass');
      const fail = ready(base({}, other), 'fail');
      const elsewhere = ready({ ...base({}, other), match: { images: ['ghcr.io/**'] } }, 'elsewhere');
      const evidence = signed();
      const both = evaluator.evaluateImage(evidence, [pass, fail, elsewhere], now);
      expect([both.verdict, both.reasons]).to.deep.equal(['NonCompliant', ['KeyMismatch']]);
      expect(both.policies.map((p) => p.policy)).to.deep.equal(['pass', 'fail']);
      expect(evaluator.evaluateImage(evidence, [pass, elsewhere], now).verdict).to.equal('Compliant');
      expect(evaluator.evaluateImage(evidence, [elsewhere], now).verdict).to.equal('Unmatched');
    });

    it('keeps a broken policy from affecting the others', () => {
      const evaluator = new PolicyEvaluator();
      const broken = compile(
        { ...base(), authorities: [{ name: 'x', keyless: { issuer: 'i', subjectRegExp: '(' } }] },
        'broken',
      );
      const verdicts = evaluator.evaluateImage(signed(), [broken, ready(base(), 'good')], now).policies;
      expect(verdicts.map((p) => [p.policy, p.verdict])).to.deep.equal([
        ['broken', 'Unknown'],
        ['good', 'Compliant'],
      ]);
    });
  });

  describe('attestations', () => {
    const requireSbom = base({ attestations: [{ name: 'sbom', predicateType: 'spdxjson' }] });

    it('is AttestationMissing without one, Compliant with one', () => {
      expect(evaluate(attested([]), ready(requireSbom)).reasons).to.deep.equal(['AttestationMissing']);
      expect(evaluate(attested([[spdxType, spdx([])]]), ready(requireSbom)).verdict).to.equal('Compliant');
    });

    it('does not accept another predicate type', () => {
      const v = evaluate(
        attested([['https://cosign.sigstore.dev/attestation/vuln/v1', {}]]),
        ready(requireSbom),
      );
      expect(v.reasons).to.deep.equal(['AttestationMissing']);
    });

    it('is AttestationInvalid for an attestation by another key', () => {
      const v = evaluate(attested([[spdxType, spdx([])]], other), ready(requireSbom));
      expect([v.verdict, v.reasons]).to.deep.equal(['NonCompliant', ['AttestationInvalid']]);
    });

    it('is Unknown, not missing, when the .att tags were not read', () => {
      const digest = randomDigest();
      const sources: SourceStatus[] = [
        { repository, item: 'image', outcome: 'found' },
        { repository, item: 'sig', outcome: 'found' },
        { repository, item: 'referrers', outcome: 'absent' },
      ];
      const v = evaluate(signed(digest, { sources }), ready(requireSbom));
      expect([v.verdict, v.reasons]).to.deep.equal(['Unknown', ['EvidenceIncomplete']]);
    });

    it('checks the provenance builder against the RE2 pattern', () => {
      const provenance = (builder: string): [string, unknown] => [
        'https://slsa.dev/provenance/v0.2',
        { builder: { id: builder }, buildType: 'https://example/build' },
      ];
      const policy = ready(
        base({
          attestations: [
            {
              name: 'prov',
              predicateType: 'slsaprovenance',
              provenance: { builderIdRegExp: '^https://github\\.com/right/.+$' },
            },
          ],
        }),
      );
      expect(evaluate(attested([provenance('https://github.com/right/builder')]), policy).verdict).to.equal(
        'Compliant',
      );
      const wrong = evaluate(attested([provenance('https://github.com/wrong/builder')]), policy);
      expect([wrong.verdict, wrong.reasons]).to.deep.equal(['NonCompliant', ['ProvenanceMismatch']]);
    });
  });

  describe('SBOM rules', () => {
    const denyLog4j = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
      base({
        sbom: {
          deny: {
            packages: [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' }],
          },
          ...extra,
        },
      });

    const table: [string, TestPackage[], string, string[]][] = [
      ['2.14.1', [log4j('2.14.1')], 'NonCompliant', ['SbomDeniedPackage']],
      ['2.0-beta9', [log4j('2.0-beta9')], 'NonCompliant', ['SbomDeniedPackage']],
      ['2.17.1', [log4j('2.17.1')], 'Compliant', []],
      ['2.20.0', [log4j('2.20.0')], 'Compliant', []],
      [
        'no log4j',
        [{ name: 'guava', version: '1', purl: 'pkg:maven/com.google.guava/guava@1' }],
        'Compliant',
        [],
      ],
    ];
    for (const [label, packages, verdict, reasons] of table) {
      it(`log4j-core <2.17.1 denied: ${label} → ${verdict}`, () => {
        for (const doc of [spdx(packages), cyclonedx(packages, '2026-05-01T00:00:00Z')]) {
          const type = 'spdxVersion' in doc ? spdxType : cdxType;
          const v = evaluate(attested([[type, doc]]), ready(denyLog4j()));
          expect([v.verdict, v.reasons]).to.deep.equal([verdict, reasons]);
        }
      });
    }

    it('judges the union of signed SBOMs', () => {
      const v = evaluate(
        attested([
          [spdxType, spdx([log4j('2.17.1')])],
          [cdxType, cyclonedx([log4j('2.14.1')])],
        ]),
        ready(denyLog4j()),
      );
      expect(v.reasons).to.deep.equal(['SbomDeniedPackage']);
    });

    it('ignores SBOMs signed by keys outside the policy', () => {
      const digest = randomDigest();
      const evidence = signed(digest, {
        attestations: [attestationLayer(other, repository, digest, spdxType, spdx([log4j('2.14.1')]))],
      });
      expect(evaluate(evidence, ready(denyLog4j())).verdict).to.equal('Compliant');
      expect(evaluate(evidence, ready(denyLog4j({ required: true }))).reasons).to.deep.equal(['SbomMissing']);
    });

    it('reports an uncomparable version as VersionUnparseable, or denies it when told to', () => {
      const rule = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
        base({ sbom: { deny: { packages: [{ purl: 'pkg:npm/left-pad', versions: '<2.0.0' }] }, ...extra } });
      const weird = [{ name: 'left-pad', version: 'latest-ish', purl: 'pkg:npm/left-pad@latest-ish' }];
      const ignore = evaluate(attested([[spdxType, spdx(weird)]]), ready(rule()));
      expect([ignore.verdict, ignore.reasons]).to.deep.equal(['Unknown', ['VersionUnparseable']]);
      const deny = evaluate(
        attested([[spdxType, spdx(weird)]]),
        ready(rule({ onUnparseableVersion: 'deny' })),
      );
      expect([deny.verdict, deny.reasons]).to.deep.equal(['NonCompliant', ['SbomDeniedPackage']]);
    });

    it('denies licenses, except where a dual license offers a way out', () => {
      const policy = ready(base({ sbom: { deny: { licenses: ['AGPL-3.0-only'] } } }));
      const pkg = (license: string): TestPackage[] => [{ name: 'x', version: '1', license }];
      expect(evaluate(attested([[spdxType, spdx(pkg('AGPL-3.0-only'))]]), policy).reasons).to.deep.equal([
        'SbomDeniedLicense',
      ]);
      expect(evaluate(attested([[spdxType, spdx(pkg('MIT OR AGPL-3.0-only'))]]), policy).verdict).to.equal(
        'Compliant',
      );
    });

    it('checks maxAge against the document time and says when the answer changes', () => {
      const policy = ready(base({ sbom: { maxAge: '720h' } }));
      const fresh = evaluate(attested([[spdxType, spdx([], '2026-05-20T00:00:00Z')]]), policy);
      expect(fresh.verdict).to.equal('Compliant');
      expect(fresh.validUntil?.toISOString()).to.equal('2026-06-19T00:00:00.000Z');
      const old = evaluate(attested([[spdxType, spdx([], '2026-04-01T00:00:00Z')]]), policy);
      expect(old.reasons).to.deep.equal(['SbomTooOld']);
      const undated = evaluate(attested([[cdxType, cyclonedx([])]]), policy);
      expect(undated.reasons).to.deep.equal(['SbomUndated']);
    });

    it('requires an SBOM when told to, and rejects a signed non-SBOM', () => {
      const policy = ready(base({ sbom: { required: true } }));
      expect(evaluate(attested([]), policy).reasons).to.deep.equal(['SbomMissing']);
      expect(evaluate(attested([[spdxType, { spdxVersion: 'SPDX-2.3' }]]), policy).reasons).to.deep.equal([
        'AttestationInvalid',
      ]);
    });

    it('never concludes a denied package from incomplete evidence', () => {
      const digest = randomDigest();
      const evidence = signed(digest, {
        attestations: [attestationLayer(key, repository, digest, spdxType, spdx([log4j('2.14.1')]))],
        sources: [
          { repository, item: 'image', outcome: 'found' },
          { repository, item: 'sig', outcome: 'found' },
          { repository, item: 'att', outcome: 'found' },
          { repository, item: 'referrers', outcome: 'error', reason: 'RateLimited' },
        ],
      });
      const v = evaluate(evidence, ready(denyLog4j()));
      expect([v.verdict, v.reasons]).to.deep.equal(['Unknown', ['RateLimited']]);
      expect(v.findings.map((f) => f.reason)).to.include('SbomDeniedPackage');
    });
  });

  describe('memoisation', () => {
    it('reuses a verdict for the same evidence, policy generation and trust generation', () => {
      const evaluator = new PolicyEvaluator();
      const evidence = signed();
      const policy = ready(base());
      const first = evaluator.evaluate(evidence, policy, now);
      expect(evaluator.evaluate(evidence, policy, now)).to.equal(first);
      expect(evaluator.evaluate(evidence, ready(base(), 'p', 2), now)).not.to.equal(first);
      expect(
        evaluator.evaluate(evidence, ready(base(), 'p', 1, trustMaterial({ generation: 2 })), now),
      ).not.to.equal(first);
    });

    it('re-evaluates once validUntil has passed', () => {
      const evaluator = new PolicyEvaluator();
      const evidence = attested([[spdxType, spdx([], '2026-05-20T00:00:00Z')]]);
      const policy = ready(base({ sbom: { maxAge: '720h' } }));
      const first = evaluator.evaluate(evidence, policy, now);
      expect(first.verdict).to.equal('Compliant');
      const later = evaluator.evaluate(evidence, policy, new Date('2026-06-19T00:00:00Z'));
      expect([later.verdict, later.reasons]).to.deep.equal(['NonCompliant', ['SbomTooOld']]);
    });
  });
});
