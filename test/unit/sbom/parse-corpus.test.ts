/**
 * Every SBOM case of the fixture corpus (kinds sbom-spdx, sbom-cyclonedx,
 * sbom-other): outcome per `expected`, then the collector's facts. The
 * cyclonedx-spec schema-conformance files have their own table
 * (cyclonedx-schema.test.ts).
 */
import { expect } from 'chai';
import { documentPath, type SbomErrorCode } from '../../../src/sbom/errors.js';
import { sbomWarningCode, type SbomWarningCode } from '../../../src/sbom/model.js';
import { parseSbom } from '../../../src/sbom/parse.js';
import {
  caseSbomText,
  expectAccepted,
  expectRejected,
  numberFact,
  outcome,
  sbomCases,
  specVersionFact,
  subjectFact,
} from './corpus-cases.js';

/**
 * Cases whose outcome differs from cases.json `expected`, keyed
 * `source/dir`, with the code Sigwatch gives and why.
 */
const deviations: Readonly<Record<string, { code: SbomErrorCode; path: string; reason: string }>> = {
  'syft/cyclonedxjson/TestCycloneDxImageEncoder': {
    code: 'SbomInvalid',
    path: 'metadata.timestamp',
    reason:
      'a test snapshot whose metadata.timestamp is redacted to "timestamp:redacted"; a real timestamp parses (below)',
  },
  'cosign/sbom/bom-go-mod-spdx': {
    code: 'SbomUnsupported',
    path: documentPath,
    reason: 'SPDX tag-value; the case asks a JSON-only parser to reject or route it without crashing',
  },
};

/** Code and field path for each expected-fail case (kind sbom-other included): the path proves the reason. */
const failCodes: Readonly<Record<string, { code: SbomErrorCode; path: string }>> = {
  'spdx-examples/spdx3--example7-bin_fail': { code: 'SbomUnsupported', path: '@context' },
  'syft/spdxjson/bad--example7-bin.spdx_fail': { code: 'SbomInvalid', path: 'creationInfo.creators[0]' },
  'syft/spdxjson/bad--example7-golang.spdx_fail': { code: 'SbomInvalid', path: 'creationInfo.creators[0]' },
  'syft/spdxjson/bad--example7-third-party-modules.spdx_fail': {
    code: 'SbomInvalid',
    path: 'creationInfo.creators[0]',
  },
  'syft/spdxjson/bad--bad-sbom_fail': { code: 'SbomInvalid', path: documentPath },
  'guac/invalid-spdx_fail': { code: 'SbomInvalid', path: 'spdxVersion' },
  'guac/invalid-cyclonedx_fail': { code: 'SbomInvalid', path: 'bomFormat' },
};

/** Tolerated deviations each passing case must report (README "SBOM deviations Sigwatch tolerates"); unlisted cases report none. */
const expectedWarnings: Readonly<Record<string, readonly SbomWarningCode[]>> = {
  'syft/spdxjson/alpine-3.10.syft.spdx': ['SpdxCreatedPrecision', 'SpdxPackageFieldMissing'],
  'syft/spdxjson/example7-third-party-modules.spdx': ['SpdxIdCharacters'],
  'guac/alpine-spdx': ['SpdxCreatedPrecision', 'SpdxPackageFieldMissing'],
  'guac-data/spdx_vuln': ['SpdxCreatedPrecision', 'SpdxPackageFieldMissing'],
  'guac-data/spdx-vault': ['SpdxCreatedPrecision', 'SpdxPackageFieldMissing'],
};

/** `log4j-core@2.8.1` or `group/log4j-core@2.9.1` → `2.9.1`. */
function log4jVersions(fact: unknown): string[] {
  return Array.isArray(fact)
    ? fact.map((entry) => String(entry).slice(String(entry).lastIndexOf('@') + 1))
    : [];
}

describe('sbom/parse: corpus SBOM cases', () => {
  const cases = sbomCases();

  it('covers every SBOM case of the corpus (no source silently dropped)', () => {
    // 26 sbom-spdx + 23 sbom-cyclonedx + 1 sbom-other (test/fixtures/README.md).
    expect(cases).to.have.length(50);
  });

  for (const testCase of cases) {
    const key = `${testCase.source}/${testCase.dir}`;
    const deviation = deviations[key];
    const text = caseSbomText(testCase);

    if (deviation !== undefined) {
      it(`${key}: ${deviation.code} at ${deviation.path} although expected ${testCase.expected} (${deviation.reason})`, () => {
        expectRejected(outcome(text), deviation.code, deviation.path);
      });
      continue;
    }
    if (testCase.expected === 'fail') {
      const want = failCodes[key];
      it(`${key}: rejected with ${want?.code ?? '?'} at ${want?.path ?? '?'}`, () => {
        if (want === undefined) expect.fail('every fail case needs a row in failCodes');
        expectRejected(outcome(text), want.code, want.path);
      });
      continue;
    }

    describe(key, () => {
      it('parses', () => {
        expectAccepted(outcome(text));
      });
      it(`format and spec version match the facts`, () => {
        const sbom = expectAccepted(outcome(text));
        expect(sbom.format).to.equal(testCase.kind === 'sbom-spdx' ? 'SPDX' : 'CycloneDX');
        // cosign's tiny SPDX has only a format fact: "SPDX-2.2 JSON".
        expect(sbom.specVersion).to.equal(specVersionFact(testCase) ?? '2.2');
      });
      const count =
        numberFact(testCase, 'package_count') ?? numberFact(testCase, 'component_count_including_nested');
      if (count !== undefined) {
        it(`has ${String(count)} components`, () => {
          expect(expectAccepted(outcome(text)).components).to.have.length(count);
        });
      }
      const subject = subjectFact(testCase);
      if (subject !== undefined) {
        it(`subject is ${JSON.stringify(subject)}`, () => {
          expect(expectAccepted(outcome(text)).subject).to.equal(subject);
        });
      }
      const log4j = log4jVersions(testCase.facts['log4j_core']);
      it(`log4j-core versions are [${log4j.join(', ')}]`, () => {
        const found = expectAccepted(outcome(text)).components.filter((c) => c.name === 'log4j-core');
        expect(found.map((c) => c.version)).to.deep.equal(log4j);
        for (const component of found)
          expect(component.purl).to.match(/^pkg:maven\/org\.apache\.logging\.log4j\//);
      });
      const warnings = expectedWarnings[key] ?? [];
      it(`warns ${warnings.length === 0 ? 'nothing' : warnings.join(', ')}`, () => {
        const codes = expectAccepted(outcome(text)).warnings.map(sbomWarningCode);
        expect(codes).to.deep.equal(warnings);
      });
    });
  }

  it('syft TestCycloneDxImageEncoder parses once its redacted timestamp is a real one', () => {
    const doc = JSON.parse(
      caseSbomText(
        sbomCases().find((c) => c.id === 'TestCycloneDxImageEncoder') ?? expect.fail('case missing'),
      ),
    ) as { metadata: Record<string, unknown> };
    doc.metadata['timestamp'] = '2024-01-01T00:00:00Z';
    const sbom = parseSbom(doc);
    expect(sbom.specVersion).to.equal('1.7');
    expect(sbom.subject).to.equal('user-image-input');
    expect(sbom.components.map((c) => `${c.name}:${c.version ?? ''}`)).to.include.members([
      'package-1:1.0.1',
      'package-2:2.0.1',
    ]);
  });
});
