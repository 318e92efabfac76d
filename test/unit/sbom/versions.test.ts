import { expect } from 'chai';
import { compareDigits } from '../../../src/sbom/version-order.js';
import { comparatorFor, compareVersions } from '../../../src/sbom/versions.js';

describe('sbom/versions', () => {
  describe('compareVersions picks the scheme of the purl type', () => {
    // Each row is ordered differently by at least one other scheme, so a wrong pick fails.
    const rows: readonly (readonly [type: string, a: string, b: string, expected: -1 | 0 | 1 | undefined])[] =
      [
        ['maven', '2.0-beta9', '2.0', -1],
        ['MAVEN', '1.0', '1', 0],
        ['pypi', '1.0.post1', '1.0', 1],
        ['npm', '1.0.0-rc.1', '1.0.0', -1],
        ['cargo', '1.0.0+a', '1.0.0+b', 0],
        ['semver', '1.2', '1.2.0', undefined],
        ['golang', 'v1.2.3', 'v1.2.4-0.20191109021931-daa7c04131f5', -1],
        ['golang', '1.2.3', '1.2.4', undefined],
        ['deb', '1:0.1', '9.9', 1],
        ['rpm', '1.0^git1', '1.0', 1],
        ['apk', '1.0_p1', '1.0-r1', 1],
        ['generic', '1.0', '1.0', undefined],
        ['gem', '1.0', '2.0', undefined],
      ];
    for (const [type, a, b, expected] of rows) {
      it(`${type}: ${a} vs ${b} → ${String(expected)}`, () => {
        expect(compareVersions(type, a, b)).to.equal(expected);
      });
    }
  });

  describe('comparatorFor', () => {
    it('has none for oci', () => {
      expect(comparatorFor('oci')).to.equal(undefined);
    });
  });

  describe('compareDigits compares digit strings by value', () => {
    const rows: readonly (readonly [string, string, -1 | 0 | 1])[] = [
      ['9', '10', -1],
      ['007', '7', 0],
      ['20191109021931123456789', '20191109021931123456788', 1],
      ['0', '', 0],
    ];
    for (const [a, b, expected] of rows) {
      it(`${a} vs ${b} → ${String(expected)}`, () => {
        expect(compareDigits(a, b)).to.equal(expected);
      });
    }
  });
});
