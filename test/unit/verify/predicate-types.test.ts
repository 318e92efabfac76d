import { expect } from 'chai';
import {
  isSbomPredicate,
  predicateMatches,
  predicateShortcuts,
  resolvePredicateType,
} from '../../../src/verify/predicate-types.js';

describe('verify/predicate-types', () => {
  describe('resolvePredicateType', () => {
    const rows: [string, string | undefined][] = [
      ['custom', 'https://cosign.sigstore.dev/attestation/v1'],
      ['slsaprovenance', 'https://slsa.dev/provenance/v0.2'],
      ['slsaprovenance02', 'https://slsa.dev/provenance/v0.2'],
      ['slsaprovenance1', 'https://slsa.dev/provenance/v1'],
      ['spdx', 'https://spdx.dev/Document'],
      ['spdxjson', 'https://spdx.dev/Document'],
      ['cyclonedx', 'https://cyclonedx.org/bom'],
      ['link', 'https://in-toto.io/Link/v1'],
      ['vuln', 'https://cosign.sigstore.dev/attestation/vuln/v1'],
      ['openvex', 'https://openvex.dev/ns'],
      ['https://example.com/CodeReview/v1', 'https://example.com/CodeReview/v1'],
      ['slsa-provenance', undefined],
      ['SPDX', undefined],
      ['cosign.sigstore.dev/attestation/vuln/v1', undefined],
      ['', undefined],
    ];
    for (const [spec, want] of rows) {
      it(`${JSON.stringify(spec)} → ${String(want)}`, () => {
        expect(resolvePredicateType(spec)).to.equal(want);
      });
    }

    it('covers every cosign --type shortcut of formats.md §6', () => {
      expect(Object.keys(predicateShortcuts).sort()).to.deep.equal(
        [
          'custom',
          'cyclonedx',
          'link',
          'openvex',
          'slsaprovenance',
          'slsaprovenance02',
          'slsaprovenance1',
          'spdx',
          'spdxjson',
          'vuln',
        ].sort(),
      );
    });
  });

  describe('predicateMatches', () => {
    const rows: [string, string, boolean][] = [
      ['https://spdx.dev/Document', 'https://spdx.dev/Document', true],
      ['https://spdx.dev/Document', 'https://spdx.dev/Document/v2.3', true],
      ['https://cyclonedx.org/bom', 'https://cyclonedx.org/bom/v1.4', true],
      ['https://spdx.dev/Document', 'https://spdx.dev/DocumentX', false],
      ['https://spdx.dev/Document/v2.3', 'https://spdx.dev/Document', false],
      ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2', false],
      ['https://slsa.dev/provenance/v0.2', 'https://slsa.dev/provenance/v0.2', true],
    ];
    for (const [required, actual, want] of rows) {
      it(`${required} ${want ? 'accepts' : 'rejects'} ${actual}`, () => {
        expect(predicateMatches(required, actual)).to.equal(want);
      });
    }
  });

  it('recognises SBOM predicates in any version', () => {
    expect(isSbomPredicate('https://cyclonedx.org/bom/v1.6')).to.equal(true);
    expect(isSbomPredicate('https://spdx.dev/Document')).to.equal(true);
    expect(isSbomPredicate('https://slsa.dev/provenance/v1')).to.equal(false);
  });
});
