/**
 * SPDX 2.x reader variants: one rule per row, each a minimal document that
 * differs from a valid one in exactly the field under test.
 */
import { expect } from 'chai';
import type { SbomErrorCode } from '../../../src/sbom/errors.js';
import { sbomWarningCode, type SbomWarningCode } from '../../../src/sbom/model.js';
import { parseSbom } from '../../../src/sbom/parse.js';
import { expectAccepted, expectRejected, outcomeOf } from './corpus-cases.js';

type Json = Record<string, unknown>;

function pkg(overrides: Json = {}): Json {
  return {
    SPDXID: 'SPDXRef-Package-a',
    name: 'a',
    downloadLocation: 'NOASSERTION',
    licenseConcluded: 'MIT',
    licenseDeclared: 'MIT',
    copyrightText: 'NOASSERTION',
    ...overrides,
  };
}

function doc(overrides: Json = {}, packages: Json[] = [pkg()]): Json {
  return {
    spdxVersion: 'SPDX-2.3',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'image',
    creationInfo: { created: '2024-01-01T00:00:00Z', creators: ['Tool: test'] },
    packages,
    ...overrides,
  };
}

const rejected: readonly { name: string; input: Json; code: SbomErrorCode; path: string }[] = [
  {
    name: 'document SPDXID other than SPDXRef-DOCUMENT',
    input: doc({ SPDXID: 'SPDXRef-DOC' }),
    code: 'SbomInvalid',
    path: 'SPDXID',
  },
  { name: 'document SPDXID missing', input: doc({ SPDXID: undefined }), code: 'SbomInvalid', path: 'SPDXID' },
  {
    name: 'package SPDXID empty',
    input: doc({}, [pkg({ SPDXID: '' })]),
    code: 'SbomInvalid',
    path: 'packages[0].SPDXID',
  },
  {
    name: 'package SPDXID only the prefix',
    input: doc({}, [pkg({ SPDXID: 'SPDXRef-' })]),
    code: 'SbomInvalid',
    path: 'packages[0].SPDXID',
  },
  {
    name: 'package SPDXID without prefix',
    input: doc({}, [pkg({ SPDXID: 'Package-a' })]),
    code: 'SbomInvalid',
    path: 'packages[0].SPDXID',
  },
  {
    name: 'package SPDXID not a string',
    input: doc({}, [pkg({ SPDXID: 7 })]),
    code: 'SbomInvalid',
    path: 'packages[0].SPDXID',
  },
  {
    name: 'package name missing',
    input: doc({}, [pkg({ name: undefined })]),
    code: 'SbomInvalid',
    path: 'packages[0].name',
  },
  {
    name: 'package not an object',
    input: doc({}, ['a' as unknown as Json]),
    code: 'SbomInvalid',
    path: 'packages[0]',
  },
  { name: 'packages not an array', input: doc({ packages: {} }), code: 'SbomInvalid', path: 'packages' },
  {
    name: 'creationInfo missing',
    input: doc({ creationInfo: undefined }),
    code: 'SbomInvalid',
    path: 'creationInfo',
  },
  {
    name: 'created a date without a time',
    input: doc({ creationInfo: { created: '2024-01-01', creators: ['Tool: t'] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.created',
  },
  {
    name: 'created without a zone',
    input: doc({ creationInfo: { created: '2024-01-01T00:00:00', creators: ['Tool: t'] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.created',
  },
  {
    name: 'created an impossible date',
    input: doc({ creationInfo: { created: '2024-13-45T00:00:00Z', creators: ['Tool: t'] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.created',
  },
  {
    name: 'created missing',
    input: doc({ creationInfo: { creators: ['Tool: t'] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.created',
  },
  {
    name: 'creators missing',
    input: doc({ creationInfo: { created: '2024-01-01T00:00:00Z' } }),
    code: 'SbomInvalid',
    path: 'creationInfo.creators',
  },
  {
    name: 'creators empty',
    input: doc({ creationInfo: { created: '2024-01-01T00:00:00Z', creators: [] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.creators',
  },
  {
    name: 'creators as objects (syft bad-* encoding)',
    input: doc({ creationInfo: { created: '2024-01-01T00:00:00Z', creators: [{ Tool: 't' }] } }),
    code: 'SbomInvalid',
    path: 'creationInfo.creators[0]',
  },
  { name: 'spdxVersion a number', input: doc({ spdxVersion: 2 }), code: 'SbomInvalid', path: 'spdxVersion' },
  { name: 'document name missing', input: doc({ name: undefined }), code: 'SbomInvalid', path: 'name' },
  {
    name: 'purl locator not a string',
    input: doc({}, [
      pkg({
        externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 1 }],
      }),
    ]),
    code: 'SbomInvalid',
    path: 'packages[0].externalRefs[0].referenceLocator',
  },
  {
    name: 'SPDX-3.0 as spdxVersion',
    input: doc({ spdxVersion: 'SPDX-3.0' }),
    code: 'SbomUnsupported',
    path: 'spdxVersion',
  },
  { name: 'SPDX-2.1', input: doc({ spdxVersion: 'SPDX-2.1' }), code: 'SbomUnsupported', path: 'spdxVersion' },
];

const warned: readonly { name: string; input: Json; warnings: SbomWarningCode[] }[] = [
  { name: 'a clean 2.3 document', input: doc(), warnings: [] },
  {
    name: 'package SPDXID with "/" (syft)',
    input: doc({}, [pkg({ SPDXID: 'SPDXRef-go-module-a/b' })]),
    warnings: ['SpdxIdCharacters'],
  },
  {
    name: 'created with microseconds (syft)',
    input: doc({ creationInfo: { created: '2024-01-01T00:00:00.123456Z', creators: ['Tool: t'] } }),
    warnings: ['SpdxCreatedPrecision'],
  },
  {
    name: '2.2 package without copyrightText',
    input: doc({ spdxVersion: 'SPDX-2.2' }, [pkg({ copyrightText: undefined })]),
    warnings: ['SpdxPackageFieldMissing'],
  },
  {
    name: '2.3 package without license fields (optional in 2.3)',
    input: doc({}, [pkg({ licenseConcluded: undefined, licenseDeclared: undefined })]),
    warnings: [],
  },
  {
    name: '2.3 purl with category PACKAGE_MANAGER',
    input: doc({}, [
      pkg({
        externalRefs: [
          { referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/a@1' },
        ],
      }),
    ]),
    warnings: ['SpdxPurlCategory'],
  },
  {
    name: '2.2 purl with category PACKAGE_MANAGER (allowed by the 2.2 schema)',
    input: doc({ spdxVersion: 'SPDX-2.2' }, [
      pkg({
        externalRefs: [
          { referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/a@1' },
        ],
      }),
    ]),
    warnings: [],
  },
];

describe('sbom/spdx: reader rules', () => {
  describe('rejects', () => {
    for (const row of rejected) {
      it(`${row.name} → ${row.code} at ${row.path}`, () => {
        expectRejected(outcomeOf(row.input), row.code, row.path);
      });
    }
  });

  describe('tolerates with a warning', () => {
    for (const row of warned) {
      it(`${row.name} → [${row.warnings.join(', ')}]`, () => {
        const sbom = expectAccepted(outcomeOf(row.input));
        expect(sbom.warnings.map(sbomWarningCode)).to.deep.equal(row.warnings);
      });
    }
    it('reports one warning per code however many packages deviate', () => {
      const many = doc({}, [
        pkg({ SPDXID: 'SPDXRef-a/1' }),
        pkg({ SPDXID: 'SPDXRef-a/2' }),
        pkg({ SPDXID: 'SPDXRef-a/3' }),
      ]);
      expect(parseSbom(many).warnings.map(sbomWarningCode)).to.deep.equal(['SpdxIdCharacters']);
    });
  });

  describe('normalises', () => {
    const sbom = parseSbom(
      doc({}, [
        pkg({
          name: 'log4j-core',
          versionInfo: '2.8.1',
          licenseConcluded: 'Apache-2.0',
          licenseDeclared: 'Apache-2.0',
          externalRefs: [
            {
              referenceCategory: 'SECURITY',
              referenceType: 'cpe23Type',
              referenceLocator: 'cpe:2.3:a:apache:log4j',
            },
            {
              referenceCategory: 'PACKAGE-MANAGER',
              referenceType: 'purl',
              referenceLocator: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.8.1',
            },
          ],
        }),
        pkg({ SPDXID: 'SPDXRef-b', name: 'b', licenseConcluded: 'NOASSERTION', licenseDeclared: 'NONE' }),
      ]),
    );
    const [first, second] = sbom.components;

    it('format, version without the SPDX- prefix, subject and created', () => {
      expect([sbom.format, sbom.specVersion, sbom.subject]).to.deep.equal(['SPDX', '2.3', 'image']);
      expect(sbom.created?.toISOString()).to.equal('2024-01-01T00:00:00.000Z');
    });
    it('name and versionInfo', () => {
      expect([first?.name, first?.version]).to.deep.equal(['log4j-core', '2.8.1']);
    });
    it('purl from the purl external reference, not the cpe', () => {
      expect(first?.purl).to.equal('pkg:maven/org.apache.logging.log4j/log4j-core@2.8.1');
    });
    it('concluded and declared licenses deduplicated', () => {
      expect(first?.licenses).to.deep.equal(['Apache-2.0']);
    });
    it('NOASSERTION and NONE are no licenses; no version, no purl', () => {
      expect(second?.licenses).to.deep.equal([]);
      expect(second).to.not.have.property('version');
      expect(second).to.not.have.property('purl');
    });
  });
});
