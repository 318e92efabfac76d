/**
 * CycloneDX reader variants: one rule per row, each a minimal document that
 * differs from a valid one in exactly the field under test.
 */
import { expect } from 'chai';
import type { SbomErrorCode } from '../../../src/sbom/errors.js';
import { sbomWarningCode, type SbomWarningCode } from '../../../src/sbom/model.js';
import { parseSbom } from '../../../src/sbom/parse.js';
import { expectAccepted, expectRejected, outcomeOf } from './corpus-cases.js';

type Json = Record<string, unknown>;

const lib = (name: string, overrides: Json = {}): Json => ({ type: 'library', name, ...overrides });

function bom(overrides: Json = {}, components: Json[] = [lib('a')]): Json {
  return { bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, components, ...overrides };
}

const rejected: readonly { name: string; input: Json; code: SbomErrorCode; path: string }[] = [
  { name: 'bomFormat CDX', input: bom({ bomFormat: 'CDX' }), code: 'SbomInvalid', path: 'bomFormat' },
  {
    name: 'specVersion missing',
    input: bom({ specVersion: undefined }),
    code: 'SbomInvalid',
    path: 'specVersion',
  },
  { name: 'specVersion "1"', input: bom({ specVersion: '1' }), code: 'SbomInvalid', path: 'specVersion' },
  { name: 'specVersion "2.0"', input: bom({ specVersion: '2.0' }), code: 'SbomInvalid', path: 'specVersion' },
  {
    name: 'specVersion a number',
    input: bom({ specVersion: 1.4 }),
    code: 'SbomInvalid',
    path: 'specVersion',
  },
  {
    name: 'specVersion 1.1 (no JSON form)',
    input: bom({ specVersion: '1.1' }),
    code: 'SbomUnsupported',
    path: 'specVersion',
  },
  {
    name: 'metadata.timestamp a date only',
    input: bom({ metadata: { timestamp: '2020-04-13' } }),
    code: 'SbomInvalid',
    path: 'metadata.timestamp',
  },
  { name: 'metadata not an object', input: bom({ metadata: [] }), code: 'SbomInvalid', path: 'metadata' },
  {
    name: 'metadata.component without name',
    input: bom({ metadata: { component: { type: 'container' } } }),
    code: 'SbomInvalid',
    path: 'metadata.component.name',
  },
  {
    name: 'component without type',
    input: bom({}, [{ name: 'a' }]),
    code: 'SbomInvalid',
    path: 'components[0].type',
  },
  {
    name: 'component without name',
    input: bom({}, [{ type: 'library' }]),
    code: 'SbomInvalid',
    path: 'components[0].name',
  },
  {
    name: 'component with empty name',
    input: bom({}, [lib('')]),
    code: 'SbomInvalid',
    path: 'components[0].name',
  },
  {
    name: 'component version a number',
    input: bom({}, [lib('a', { version: 1 })]),
    code: 'SbomInvalid',
    path: 'components[0].version',
  },
  {
    name: 'nested component without name',
    input: bom({}, [lib('a', { components: [{ type: 'library' }] })]),
    code: 'SbomInvalid',
    path: 'components[0].components[0].name',
  },
  {
    name: 'license entry with license and expression',
    input: bom({}, [lib('a', { licenses: [{ license: { id: 'MIT' }, expression: 'MIT' }] })]),
    code: 'SbomInvalid',
    path: 'components[0].licenses[0]',
  },
  {
    name: 'license entry with neither',
    input: bom({}, [lib('a', { licenses: [{}] })]),
    code: 'SbomInvalid',
    path: 'components[0].licenses[0]',
  },
  {
    name: 'license without id or name',
    input: bom({}, [lib('a', { licenses: [{ license: {} }] })]),
    code: 'SbomInvalid',
    path: 'components[0].licenses[0].license',
  },
  {
    name: 'licenses not an array',
    input: bom({}, [lib('a', { licenses: 'MIT' })]),
    code: 'SbomInvalid',
    path: 'components[0].licenses',
  },
];

const warned: readonly { name: string; input: Json; warnings: SbomWarningCode[] }[] = [
  { name: 'a clean 1.6 document', input: bom(), warnings: [] },
  { name: 'specVersion 1.7', input: bom({ specVersion: '1.7' }), warnings: [] },
  {
    name: 'specVersion 1.8 (newer than known)',
    input: bom({ specVersion: '1.8' }),
    warnings: ['CycloneDxNewerSpecVersion'],
  },
  {
    name: '1.6 expression mixed with license objects',
    input: bom({}, [
      lib('a', { licenses: [{ license: { id: 'MIT' } }, { expression: 'MIT OR Apache-2.0' }] }),
    ]),
    warnings: ['CycloneDxLicenseMix'],
  },
  {
    name: '1.4 expression mixed with license objects (allowed before 1.5)',
    input: bom({ specVersion: '1.4' }, [
      lib('a', { licenses: [{ license: { id: 'MIT' } }, { expression: 'MIT' }] }),
    ]),
    warnings: [],
  },
];

describe('sbom/cyclonedx: reader rules', () => {
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
  });

  describe('normalises', () => {
    const sbom = parseSbom(
      bom(
        {
          metadata: { timestamp: '2022-10-08T10:01:23-04:00', component: { type: 'container', name: 'img' } },
        },
        [
          lib('outer', {
            version: '1',
            purl: 'pkg:npm/outer@1',
            licenses: [
              { license: { id: 'MIT' } },
              { license: { name: 'Custom' } },
              { license: { id: 'MIT' } },
            ],
            components: [lib('inner', { components: [lib('innermost')] })],
          }),
          { type: 'file', name: 'go.mod', components: [lib('under-file')] },
          lib('last', { licenses: [{ expression: 'Apache-2.0 OR MIT' }] }),
        ],
      ),
    );

    it('subject from metadata.component, created with its offset applied', () => {
      expect(sbom.subject).to.equal('img');
      expect(sbom.created?.toISOString()).to.equal('2022-10-08T14:01:23.000Z');
    });
    it('flattens nested components depth-first and leaves out files', () => {
      expect(sbom.components.map((c) => c.name)).to.deep.equal([
        'outer',
        'inner',
        'innermost',
        'under-file',
        'last',
      ]);
    });
    it('keeps version and purl as written', () => {
      expect([sbom.components[0]?.version, sbom.components[0]?.purl]).to.deep.equal(['1', 'pkg:npm/outer@1']);
    });
    it('license ids and names, deduplicated', () => {
      expect(sbom.components[0]?.licenses).to.deep.equal(['MIT', 'Custom']);
    });
    it('license expressions as written', () => {
      expect(sbom.components[4]?.licenses).to.deep.equal(['Apache-2.0 OR MIT']);
    });
    it('no metadata: no subject, no created', () => {
      const bare = parseSbom(bom());
      expect(bare).to.not.have.property('subject');
      expect(bare).to.not.have.property('created');
    });
    it('deep nesting does not overflow the stack', () => {
      let nested: Json = lib('leaf');
      for (let depth = 0; depth < 20_000; depth++)
        nested = lib(`n${String(depth)}`, { components: [nested] });
      expect(parseSbom(bom({}, [nested])).components).to.have.length(20_001);
    });
  });
});
