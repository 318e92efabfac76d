import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-maven.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-maven', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // The log4j table of issue 5.
      ['2.0-beta9', '2.0-rc1', '2.0', '2.14.1', '2.16.0', '2.17.1', '2.20.0'],
      // Maven's own ComparableVersionTest VERSIONS_QUALIFIER (classic subset).
      [
        '1-alpha2snapshot',
        '1-alpha2',
        '1-alpha-123',
        '1-beta-2',
        '1-beta123',
        '1-m2',
        '1-m11',
        '1-rc',
        '1-cr2',
      ],
      ['1-rc123', '1-SNAPSHOT', '1', '1-sp', '1-sp2', '1-sp123', '1-abc', '1-def', '1-pom-1', '1-1-snapshot'],
      ['1-1', '1-2', '1-123'],
      [
        '1.0-alpha1',
        '1.0-beta1',
        '1.0-milestone1',
        '1.0-rc1',
        '1.0-SNAPSHOT',
        '1.0',
        '1.0-sp1',
        '1.0.1',
        '1.1',
      ],
      ['1.9', '1.10', '1.100'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['1', '1.0'],
      ['1.0', '1.0.0'],
      ['1-ga', '1'],
      ['1.0-final', '1.0'],
      ['1.0-RELEASE', '1'],
      ['1-cr1', '1-rc1'],
      // Trailing zeros go before a qualifier list too.
      ['1.0-alpha1', '1-alpha1'],
      ['2.0.0-rc1', '2-rc1'],
      ['1-a1', '1-alpha1'],
      ['1-b1', '1-beta-1'],
      ['1.0-ALPHA1', '1.0-alpha1'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0', ['', ' ', '1.0 beta']);
  });
  describe('laws', () => {
    const part = fc.oneof(
      smallNumber,
      token('alpha', 'beta', 'rc', 'cr', 'snapshot', 'ga', 'sp', 'foo', 'a', 'm'),
    );
    const version = fc
      .array(fc.tuple(part, token('.', '-', '')), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.map(([p, s]) => p + s).join('') || '0')
      .map((v) => v.replace(/[.-]+$/, '') || '0');
    describeLaws(compare, version);
  });
});
