/**
 * Properties of the evaluator over generated evidence and policies: the
 * safety rules of design §3 must hold for every combination, not only for
 * the cases someone thought of. Signatures and attestations are real (keys
 * made here, layers signed as cosign signs them), drawn from a pool so the
 * crypto is paid once.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { PolicyEvaluator } from '../../../src/policy/evaluate.js';
import type { SourceItem, SourceStatus } from '../../../src/registry/evidence.js';
import type { UnknownReason } from '../../../src/base/reasons.js';
import {
  attestationLayer,
  buildEvidence,
  randomDigest,
  signatureLayer,
  testKey,
} from '../../support/evidence-builder.js';
import { keyAuthority, ready } from './policy-fixtures.js';
import { cyclonedx, log4j, spdx } from '../../support/sbom-documents.js';

const repository = 'registry.example/shop/cart';
const digest = randomDigest();
const keys = { a: testKey(), b: testKey(), c: testKey() };
type KeyName = keyof typeof keys;
const keyNames: readonly KeyName[] = ['a', 'b', 'c'];

const spdxType = 'https://spdx.dev/Document';
const cdxType = 'https://cyclonedx.org/bom';
const provType = 'https://slsa.dev/provenance/v0.2';

/** Every signature and attestation the generated evidence may hold, with who signed it and what it says. */
const sigPool = keyNames.map((k) => ({ signer: k, layer: signatureLayer(keys[k], repository, digest) }));
const garbageSig = { ...signatureLayer(keys.a, repository, randomDigest()), repository };
const predicates: readonly { label: string; type: string; body: unknown }[] = [
  {
    label: 'clean spdx',
    type: spdxType,
    body: spdx([log4j('2.17.1')], '2026-05-20T00:00:00Z'),
  },
  {
    label: 'log4j spdx',
    type: spdxType,
    body: spdx([log4j('2.14.1')], '2026-05-25T00:00:00Z'),
  },
  { label: 'old cdx', type: cdxType, body: cyclonedx([], '2025-01-01T00:00:00Z') },
  {
    label: 'undated cdx',
    type: cdxType,
    body: cyclonedx([{ name: 'x', version: '1', license: 'AGPL-3.0-only' }]),
  },
  {
    label: 'provenance',
    type: provType,
    body: { builder: { id: 'https://github.com/right/builder' } },
  },
  { label: 'not an sbom', type: spdxType, body: { spdxVersion: 'SPDX-9' } },
];
const attPool = keyNames.flatMap((k) =>
  predicates.map((p) => ({
    signer: k,
    /** An SBOM predicate type: SBOM rules judge it once its signer is an authority. */
    sbom: p.type === spdxType || p.type === cdxType,
    layer: attestationLayer(keys[k], repository, digest, p.type, p.body),
  })),
);

const unknownReason = fc.constantFrom<UnknownReason>(
  'RegistryUnavailable',
  'RegistryUnauthorized',
  'RateLimited',
  'EvidenceIncomplete',
);
// Found sources may have been served over the limits or hold something else (finding 3): both definite.
const outcome = fc.oneof(
  fc.constant<Pick<SourceStatus, 'outcome'>>({ outcome: 'found' }),
  fc.constant<Pick<SourceStatus, 'outcome' | 'omitted'>>({ outcome: 'found', omitted: 3 }),
  fc.constant<Pick<SourceStatus, 'outcome' | 'invalid'>>({ outcome: 'found', invalid: 'an image index' }),
  fc.constant<Pick<SourceStatus, 'outcome'>>({ outcome: 'absent' }),
  unknownReason.map((reason): Pick<SourceStatus, 'outcome' | 'reason'> => ({ outcome: 'error', reason })),
);
const items: readonly SourceItem[] = ['image', 'sig', 'att', 'referrers', 'sbom'];

const evidenceArb = fc
  .record({
    sigs: fc.subarray(sigPool),
    garbage: fc.boolean(),
    atts: fc.subarray(attPool, { maxLength: 6 }),
    outcomes: fc.tuple(...items.map(() => outcome)),
    attLooked: fc.boolean(),
  })
  .map((g) => {
    const sources = items.flatMap((item, i): SourceStatus[] =>
      item === 'att' && !g.attLooked
        ? []
        : [{ repository, item, ...(g.outcomes[i] ?? { outcome: 'absent' }) }],
    );
    const evidence = buildEvidence({
      repository,
      digest,
      signatures: [...g.sigs.map((s) => s.layer), ...(g.garbage ? [garbageSig] : [])],
      attestations: g.atts.map((a) => a.layer),
      sources,
      imageSeen: g.outcomes[0]?.outcome === 'found',
    });
    return { evidence, sigSigners: new Set(g.sigs.map((s) => s.signer)), atts: g.atts };
  });

const specArb = fc.record({
  authorities: fc.uniqueArray(fc.constantFrom(...keyNames), { minLength: 1, maxLength: 3 }),
  requireSbomAttestation: fc.boolean(),
  provenance: fc.boolean(),
  sbom: fc.record({
    required: fc.boolean(),
    maxAge: fc.option(fc.constantFrom('24h', '720h', '8760h'), { nil: undefined }),
    denyLog4j: fc.boolean(),
    denyAgpl: fc.boolean(),
  }),
  exception: fc.option(fc.constantFrom('2026-01-01T00:00:00Z', '2026-09-01T00:00:00Z'), { nil: undefined }),
});
type SpecShape = typeof specArb extends fc.Arbitrary<infer T> ? T : never;

function specFor(
  shape: SpecShape,
  authorities: readonly KeyName[] = shape.authorities,
): Record<string, unknown> {
  return {
    match: { images: ['registry.example/**'] },
    authorities: authorities.map((k) => keyAuthority(k, keys[k])),
    attestations: [
      ...(shape.requireSbomAttestation ? [{ name: 'sbom', predicateType: 'spdxjson' }] : []),
      ...(shape.provenance
        ? [
            {
              name: 'prov',
              predicateType: 'slsaprovenance',
              provenance: { builderIdRegExp: '^https://github\\.com/right/.+$' },
            },
          ]
        : []),
    ],
    sbom: {
      required: shape.sbom.required,
      ...(shape.sbom.maxAge === undefined ? {} : { maxAge: shape.sbom.maxAge }),
      deny: {
        packages: shape.sbom.denyLog4j
          ? [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' }]
          : [],
        licenses: shape.sbom.denyAgpl ? ['AGPL-3.0-only'] : [],
      },
    },
    exceptions:
      shape.exception === undefined
        ? []
        : [{ images: ['registry.example/shop/*'], reason: 'r', expires: shape.exception }],
  };
}

const nowArb = fc.date({
  min: new Date('2026-05-26T00:00:00Z'),
  max: new Date('2027-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const runs = { numRuns: 300 };

describe('policy evaluator properties', function () {
  // Hundreds of generated cases, each verifying real signatures: slower than one unit test.
  this.timeout(60_000);

  it('never gives NonCompliant when a source failed and no valid signature was found', () => {
    fc.assert(
      fc.property(evidenceArb, specArb, nowArb, (e, shape, now) => {
        const failed = e.evidence.sources.some((s) => s.outcome === 'error' && s.item !== 'sbom');
        const validSignature = shape.authorities.some((k) => e.sigSigners.has(k));
        fc.pre(failed && !validSignature);
        const v = new PolicyEvaluator().evaluate(e.evidence, ready(specFor(shape)), now);
        expect(v.verdict).not.to.equal('NonCompliant');
      }),
      runs,
    );
  });

  it('never gives NonCompliant on incomplete evidence at all', () => {
    fc.assert(
      fc.property(evidenceArb, specArb, nowArb, (e, shape, now) => {
        fc.pre(!e.evidence.complete);
        const v = new PolicyEvaluator().evaluate(e.evidence, ready(specFor(shape)), now);
        expect(v.verdict).not.to.equal('NonCompliant');
      }),
      runs,
    );
  });

  it('never turns Compliant into NonCompliant by adding an authority (that vouches for no SBOM)', () => {
    fc.assert(
      fc.property(evidenceArb, specArb, fc.constantFrom(...keyNames), nowArb, (e, shape, added, now) => {
        fc.pre(!shape.authorities.includes(added));
        // SBOM rules judge the SBOMs of all the policy's authorities (design §2): an added authority that
        // vouches for an SBOM with a denied package — or, where there was none, an old or undated one — is
        // meant to fail the image (see the example test below). Signatures and other attestations are
        // alternatives and only ever help.
        fc.pre(!e.atts.some((a) => a.signer === added && a.sbom));
        const before = new PolicyEvaluator().evaluate(e.evidence, ready(specFor(shape)), now);
        const after = new PolicyEvaluator().evaluate(
          e.evidence,
          ready(specFor(shape, [...shape.authorities, added])),
          now,
        );
        if (before.verdict === 'Compliant') expect(after.verdict).not.to.equal('NonCompliant');
      }),
      runs,
    );
  });

  it('adding an authority that vouches for a denied package does fail the image (union rule)', () => {
    const d = randomDigest();
    const evidence = buildEvidence({
      repository,
      digest: d,
      signatures: [signatureLayer(keys.a, repository, d)],
      attestations: [attestationLayer(keys.b, repository, d, spdxType, spdx([log4j('2.14.1')]))],
    });
    const shape: SpecShape = {
      authorities: ['a'],
      requireSbomAttestation: false,
      provenance: false,
      sbom: { required: false, maxAge: undefined, denyLog4j: true, denyAgpl: false },
      exception: undefined,
    };
    const now = new Date('2026-06-01T00:00:00Z');
    expect(new PolicyEvaluator().evaluate(evidence, ready(specFor(shape)), now).verdict).to.equal(
      'Compliant',
    );
    const widened = new PolicyEvaluator().evaluate(evidence, ready(specFor(shape, ['a', 'b'])), now);
    expect([widened.verdict, widened.reasons]).to.deep.equal(['NonCompliant', ['SbomDeniedPackage']]);
  });

  it('is deterministic, memoised or not', () => {
    const shared = new PolicyEvaluator();
    fc.assert(
      fc.property(evidenceArb, specArb, nowArb, (e, shape, now) => {
        const policy = ready(specFor(shape));
        const first = new PolicyEvaluator().evaluate(e.evidence, policy, now);
        expect(new PolicyEvaluator().evaluate(e.evidence, policy, now)).to.deep.equal(first);
        expect(shared.evaluate(e.evidence, policy, now)).to.deep.equal(first);
      }),
      runs,
    );
  });

  it('never returns a validUntil in the past', () => {
    fc.assert(
      fc.property(evidenceArb, specArb, nowArb, (e, shape, now) => {
        const v = new PolicyEvaluator().evaluate(e.evidence, ready(specFor(shape)), now);
        if (v.validUntil !== undefined) expect(v.validUntil.getTime()).to.be.greaterThan(now.getTime());
      }),
      runs,
    );
  });
});
