/**
 * CycloneDX/specification schema-conformance files (kind
 * sbom-cyclonedx-schema), applied where they apply: Sigwatch reads the
 * fields policies use and is not a JSON Schema validator. Every valid-* file
 * must parse with the collector's facts; every invalid-* file is either
 * rejected (SbomInvalid) or listed below with the reason Sigwatch accepts it,
 * so a change of behaviour in either direction fails a test.
 */
import { expect } from 'chai';
import { loadCases } from '../../support/testdata.js';
import {
  caseSbomText,
  expectAccepted,
  expectRejected,
  numberFact,
  outcome,
  specVersionFact,
  subjectFact,
} from './corpus-cases.js';

/** invalid-* files Sigwatch accepts, by name without the version suffix, and why. */
const acceptedInvalid: Readonly<Record<string, string>> = {
  'invalid-component-swid': 'schema-only constraint on swid, a field Sigwatch does not read',
  'invalid-component-type':
    'component type enum not enforced: newer versions add types and type is not policy input',
  'invalid-hash-alg': 'hashes are not read: Sigwatch judges images by digest, not SBOM hashes',
  'invalid-hash-sha1': 'hashes are not read (hash content length/pattern is schema-only)',
  'invalid-hash-sha256': 'hashes are not read (hash content length/pattern is schema-only)',
  'invalid-hash-sha512': 'hashes are not read (hash content length/pattern is schema-only)',
  'invalid-license-encoding': 'license text and its encoding are not read, only id/name/expression',
  'invalid-license-id': 'license ids are kept as written; validating against the SPDX list is policy work',
  'invalid-metadata-license': "metadata.licenses (the BOM's own license) is not read; ids are not validated",
  'invalid-patch-type': 'pedigree patches are not read',
  'invalid-scope': 'component scope is not read (schema-only enum)',
  'invalid-serialnumber': 'serialNumber is not read (schema-only urn:uuid pattern)',
  'invalid-license-declared-concluded-mix':
    'expression mixed with license objects: accepted with warning CycloneDxLicenseMix (README "SBOM deviations Sigwatch tolerates")',
};

/** invalid-* files Sigwatch rejects (all SbomInvalid), by name without the version suffix, with the field it names. */
const rejectedInvalid: Readonly<Record<string, string>> = {
  'invalid-bomformat': 'bomFormat',
  'invalid-empty-component': 'components[0].name',
  'invalid-license-choice': 'components[0].licenses[0]',
  'invalid-license-missing-id-and-name': 'components[0].licenses[0].license',
  'invalid-metadata-timestamp': 'metadata.timestamp',
  'invalid-missing-component-type': 'components[0].type',
};

/** valid-* files with `type: file` entries, which the collector counts and Sigwatch does not (not components). */
const fileEntries: Readonly<Record<string, number>> = { 'valid-component-types': 1 };

const stem = (id: string): string => (id.split('/').pop() ?? id).replace(/-1\.\d+$/, '');

describe('sbom/cyclonedx: CycloneDX schema-conformance files', () => {
  const cases = loadCases('cyclonedx-spec', 'sbom-cyclonedx-schema');

  it('covers all 125 files', () => {
    expect(cases).to.have.length(125);
  });

  it('every table row matches at least one case (no stale rows)', () => {
    const stems = new Set(cases.map((c) => stem(c.id)));
    const rows = [
      ...Object.keys(acceptedInvalid),
      ...Object.keys(rejectedInvalid),
      ...Object.keys(fileEntries),
    ];
    expect(rows.filter((s) => !stems.has(s))).to.deep.equal([]);
  });

  for (const testCase of cases) {
    const name = stem(testCase.id);
    const text = caseSbomText(testCase);
    const reason = acceptedInvalid[name];
    const path = rejectedInvalid[name];

    if (testCase.expected === 'fail' && reason !== undefined) {
      it(`${testCase.id}: accepted (${reason})`, () => {
        expectAccepted(outcome(text));
      });
      continue;
    }
    if (testCase.expected === 'fail') {
      it(`${testCase.id}: rejected with SbomInvalid at ${path ?? '?'}`, () => {
        if (path === undefined)
          expect.fail('every invalid-* file needs a row in acceptedInvalid or rejectedInvalid');
        expectRejected(outcome(text), 'SbomInvalid', path);
      });
      continue;
    }

    it(`${testCase.id}: parses with spec version, component count and subject from the facts`, () => {
      const sbom = expectAccepted(outcome(text));
      expect(sbom.format).to.equal('CycloneDX');
      expect(sbom.specVersion).to.equal(specVersionFact(testCase));
      const counted =
        numberFact(testCase, 'component_count_including_nested') ?? expect.fail('no count fact');
      expect(sbom.components).to.have.length(counted - (fileEntries[name] ?? 0));
      expect(sbom.subject).to.equal(subjectFact(testCase));
    });
  }
});
