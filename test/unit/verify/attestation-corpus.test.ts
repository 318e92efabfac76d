/**
 * The vulnerability-attestation cases of test/fixtures, and guac's
 * Tekton provenance envelope: each case's manifest facts (predicate type,
 * subject) checked against what Sigwatch reads, and the outcome the case
 * expects, in Sigwatch's terms.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import type { Digest } from '../../../src/base/digest.js';
import { checkAttestation, collectVerifiedAttestations } from '../../../src/verify/attestations.js';
import { parseDsseEnvelope, verifyDsse } from '../../../src/verify/dsse.js';
import {
  parseInTotoStatement,
  statementNamesDigest,
  type InTotoStatement,
} from '../../../src/verify/legacy-attestation.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import { predicateMatches, resolvePredicateType } from '../../../src/verify/predicate-types.js';
import { readProvenance } from '../../../src/verify/provenance.js';
import { attestationLayer, buildEvidence, randomDigest, testKey } from '../../support/evidence-builder.js';
import { loadCases, readCaseBytes, readCaseText, type TestCase } from '../../support/testdata.js';

function envelopeStatement(testCase: TestCase, file: string): InTotoStatement {
  const envelope = parseDsseEnvelope(readCaseBytes(testCase, file));
  if (!envelope.ok) throw new Error(`${testCase.id}: envelope does not parse`);
  const statement = parseInTotoStatement(envelope.envelope.payload);
  if (!statement.ok) throw new Error(`${testCase.id}: ${statement.problem}`);
  return statement.statement;
}

const vuln = resolvePredicateType('vuln') ?? '';

/** How each case is judged; a new case in the corpus fails the count check until it is added here. */
const judges: Readonly<Record<string, (c: TestCase) => void>> = {
  'certify-vuln': statementWithoutImageDigest,
  'certify-novuln': statementWithoutImageDigest,
  // cosign must not accept a predicate type without a scheme as the typed "vuln" predicate.
  'policy-attestation-malformed-vuln_fail': (c) => {
    const statement = envelopeStatement(c, String(c.inputs['envelope']));
    expect(statement.predicateType).to.equal(c.facts['predicateType']);
    expect(statement.subject).to.deep.equal(c.facts['subject']);
    expect(predicateMatches(vuln, statement.predicateType)).to.equal(false);
    expect(resolvePredicateType(statement.predicateType)).to.equal(undefined);
  },
  // A real cosign vuln predicate: attested with a key as `cosign attest --type vuln` does, it satisfies "vuln".
  'vuln-predicate': (c) => {
    const predicate = JSON.parse(readCaseText(c, String(c.inputs['predicate']))) as unknown;
    const key = testKey();
    const repository = 'registry.example/app';
    const digest = randomDigest();
    const evidence = buildEvidence({
      repository,
      digest,
      attestations: [attestationLayer(key, repository, digest, vuln, predicate)],
    });
    const authority = {
      kind: 'key' as const,
      name: 'k',
      publicKey: parsePublicKey(key.publicKeyPem),
      requireTransparencyLog: false,
    };
    const { verified, rejected } = collectVerifiedAttestations(evidence, [authority], new Date());
    expect(checkAttestation(evidence, verified, rejected, 'vuln').verdict).to.equal('Compliant');
    expect(verified[0]?.statement.predicate).to.deep.equal(predicate);
  },
};

/**
 * guac's vulns predicates name a package by `uri` only. The in-toto
 * Statement requires a digest on every subject; without one the statement
 * can never be bound to an image digest, so Sigwatch reads the facts but
 * refuses it as image evidence (guac, an ingester, keeps it).
 */
function statementWithoutImageDigest(c: TestCase): void {
  const raw = JSON.parse(readCaseText(c, String(c.inputs['statement']))) as {
    predicateType: string;
    subject: unknown;
  };
  expect(raw.predicateType).to.equal(c.facts['predicateType']);
  expect(raw.subject).to.deep.equal(c.facts['subject']);
  const parsed = parseInTotoStatement(readCaseBytes(c, String(c.inputs['statement'])));
  expect(parsed.ok).to.equal(false);
}

describe('verify: vulnerability attestation corpus', () => {
  const cases = [...loadCases('guac', 'vuln-attestation'), ...loadCases('cosign', 'vuln-attestation')];

  it('covers every vuln-attestation case of the corpus', () => {
    expect(cases.map((c) => c.id).sort()).to.deep.equal(Object.keys(judges).sort());
  });

  for (const c of cases) {
    it(`${c.source}/${c.id} (${c.expected})`, () => {
      const judge = judges[c.id];
      if (judge === undefined) throw new Error(`no judge for ${c.id}`);
      judge(c);
    });
  }

  it('guac/oci-dsse-att: Tekton Chains SLSA v0.2 provenance reads, and cannot be verified without its key', () => {
    const [c] = loadCases('guac', 'slsa-provenance').filter((x) => x.id === 'oci-dsse-att');
    if (c === undefined) throw new Error('oci-dsse-att case missing');
    const statement = envelopeStatement(c, String(c.inputs['envelope']));
    expect(statement.predicateType).to.equal(c.facts['predicateType']);
    expect(statement.subject).to.deep.equal(c.facts['subject']);
    expect(readProvenance(statement)).to.deep.include({
      version: 'v0.2',
      builderId: 'https://tekton.dev/chains/v2',
    });
    const envelope = parseDsseEnvelope(readCaseBytes(c, String(c.inputs['envelope'])));
    if (!envelope.ok) throw new Error('envelope');
    expect(
      verifyDsse(envelope.envelope, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    ).to.equal(undefined);
    const digest =
      `sha256:${(c.facts['subject'] as { digest: { sha256: string } }[])[0]?.digest.sha256 ?? ''}` as Digest;
    // The statement binds to that image digest, and only to it.
    expect(statementNamesDigest(statement, digest)).to.equal(true);
    expect(statementNamesDigest(statement, randomDigest())).to.equal(false);
  });
});
