import { readdirSync } from 'node:fs';
import { expect } from 'chai';
import { regexpIdentity } from '../../../src/verify/identity.js';
import { parseInTotoStatement, type InTotoStatement } from '../../../src/verify/legacy-attestation.js';
import {
  checkProvenance,
  normaliseSourceUri,
  readProvenance,
  slsaProvenanceV02,
  slsaProvenanceV1,
} from '../../../src/verify/provenance.js';
import { caseFile, loadCases, readCaseText, type TestCase } from '../../support/testdata.js';

function parse(bytes: Uint8Array): InTotoStatement {
  const parsed = parseInTotoStatement(bytes);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.statement;
}

/** The statement inside a case's bundle or bare DSSE envelope: reading the payload is enough here. */
function caseStatement(testCase: TestCase): InTotoStatement {
  const file = readdirSync(caseFile(testCase, './')).find((f) => /\.intoto\.(jsonl|build\.slsa)$/.test(f));
  if (file === undefined) throw new Error(`${testCase.id}: no provenance file`);
  const json = JSON.parse(readCaseText(testCase, file).trim().split('\n')[0] ?? '') as {
    payload?: string;
    dsseEnvelope?: { payload?: string };
  };
  const payload = json.dsseEnvelope?.payload ?? json.payload ?? '';
  return parse(Buffer.from(payload, 'base64'));
}

const fact = (c: TestCase, name: string): string => {
  const v = c.facts[name];
  if (typeof v !== 'string') throw new Error(`${c.id}: fact ${name} missing`);
  return v;
};

describe('verify/provenance', () => {
  describe('guac-data kube-slsa-v1.24.1 (v0.2)', () => {
    const [kube] = loadCases('guac-data').filter((c) => c.id === 'kube-slsa-v1.24.1');
    if (kube === undefined) throw new Error('case kube-slsa-v1.24.1 missing');
    // Read directly, not through parseInTotoStatement: this real statement repeats subject names, which
    // v0.1 forbids and the strict parser rejects; provenance reading does not look at subjects.
    const raw = JSON.parse(readCaseText(kube, 'kube-slsa-v1.24.1.json')) as {
      predicateType: string;
      predicate: unknown;
    };
    const statement: InTotoStatement = {
      type: 'https://in-toto.io/Statement/v0.1',
      subject: [],
      predicateType: raw.predicateType,
      predicate: raw.predicate,
    };

    it('reads the builder id and version', () => {
      expect(statement.predicateType).to.equal(slsaProvenanceV02);
      const prov = readProvenance(statement);
      expect(prov?.version).to.equal('v0.2');
      expect(prov?.builderId).to.equal('https://git.k8s.io/release/docs/krel');
    });

    it('accepts a matching builder pattern and rejects a wrong one', () => {
      expect(
        checkProvenance(statement, { builderIdRegExp: regexpIdentity('^https://git\\.k8s\\.io/') }),
      ).to.equal(undefined);
      expect(
        checkProvenance(statement, { builderIdRegExp: regexpIdentity('^https://github\\.com/') })?.reason,
      ).to.equal('ProvenanceMismatch');
    });
  });

  describe('slsa-verifier statements', () => {
    for (const c of loadCases('slsa-verifier', 'slsa-provenance')) {
      it(`${c.id}: predicate type and builder id as the case facts give`, () => {
        const statement = caseStatement(c);
        expect(statement.predicateType).to.equal(fact(c, 'predicateType'));
        const prov = readProvenance(statement);
        expect(prov?.version).to.equal(statement.predicateType === slsaProvenanceV1 ? 'v1' : 'v0.2');
        expect(prov?.builderId).to.equal(fact(c, 'builder_id'));
        const wrongRepo = checkProvenance(statement, {
          sourceRepositories: ['git+https://github.com/o/elsewhere'],
        });
        expect(wrongRepo?.reason).to.equal('ProvenanceMismatch');
        // The passing cases were built from the case's source_uri; the failing ones from a test fork.
        const sourceUri = c.inputs['source_uri'];
        if (c.expected === 'pass' && typeof sourceUri === 'string') {
          expect(
            checkProvenance(statement, { sourceRepositories: [`git+https://${sourceUri}@refs/heads/main`] }),
          ).to.equal(undefined);
        }
        expect(
          checkProvenance(statement, { builderIdRegExp: regexpIdentity('^https://example\\.com/') })?.reason,
        ).to.equal('ProvenanceMismatch');
      });
    }
  });

  describe('constructed statements', () => {
    const v1 = (predicate: unknown): InTotoStatement => ({
      type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'a'.repeat(64) } }],
      predicateType: slsaProvenanceV1,
      predicate,
    });
    const github = v1({
      buildDefinition: {
        buildType: 'https://actions.github.io/buildtypes/workflow/v1',
        externalParameters: { workflow: { repository: 'https://github.com/o/r', ref: 'refs/heads/main' } },
        resolvedDependencies: [
          { uri: 'git+https://github.com/o/r@refs/heads/main', digest: { gitCommit: 'abc' } },
        ],
      },
      runDetails: { builder: { id: 'https://github.com/actions/runner/github-hosted' } },
    });

    it('normalises refs and revisions away', () => {
      expect(normaliseSourceUri('git+https://github.com/o/r@refs/heads/main')).to.equal(
        'git+https://github.com/o/r',
      );
      expect(normaliseSourceUri('git+https://github.com/o/r.git@v1.2.3')).to.equal(
        'git+https://github.com/o/r',
      );
      expect(normaliseSourceUri('https://github.com/o/r/')).to.equal('https://github.com/o/r');
    });

    it('reads v1 workflow repository and resolved dependencies', () => {
      expect(readProvenance(github)?.sourceRepositories).to.deep.equal([
        'https://github.com/o/r',
        'git+https://github.com/o/r',
      ]);
      expect(
        checkProvenance(github, { sourceRepositories: ['git+https://github.com/o/r@refs/heads/dev'] }),
      ).to.equal(undefined);
      expect(
        checkProvenance(github, { sourceRepositories: ['git+https://github.com/o/other'] })?.reason,
      ).to.equal('ProvenanceMismatch');
    });

    it('compares build type exactly', () => {
      expect(
        checkProvenance(github, { buildType: 'https://actions.github.io/buildtypes/workflow/v1' }),
      ).to.equal(undefined);
      expect(checkProvenance(github, { buildType: 'https://example.com/other' })?.reason).to.equal(
        'ProvenanceMismatch',
      );
    });

    it('a predicate that is not provenance, or lacks the builder, is a mismatch', () => {
      const sbom: InTotoStatement = { ...github, predicateType: 'https://spdx.dev/Document' };
      expect(checkProvenance(sbom, {})?.reason).to.equal('ProvenanceMismatch');
      expect(checkProvenance(v1({}), { builderIdRegExp: regexpIdentity('.*') })?.reason).to.equal(
        'ProvenanceMismatch',
      );
    });
  });
});
