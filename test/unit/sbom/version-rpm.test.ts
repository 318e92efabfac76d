import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-rpm.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-rpm', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // rpm's rpmvercmp.at cases.
      ['1.0~rc1', '1.0', '1.0^git1', '1.0^git2', '1.0.1'],
      ['1.0~rc1', '1.0~rc2', '1.0'],
      ['1.0~rc1^git1', '1.0~rc1^git2', '1.0~rc2'],
      ['1.0a', '1.0.1'],
      ['1.0', '1.0a'],
      ['a', '1'],
      ['2.14.1-1.el9', '2.16.0-1.el9', '2.17.1-1.el9', '2.20.0-1.el9'],
      ['1.0', '1.0-1', '1.0-2', '1.0-10'],
      ['9.9-9', '1:0.1-1'],
      ['5.5p1', '5.5p2', '5.5p10', '5.6p1'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['1.0', '1.0'],
      ['1.0', '1_0'],
      ['0:1.0-1', '1.0-1'],
      ['1.01', '1.1'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0', ['', 'x:1.0', '1.0-', '1.0 1', '1.0-1-1']);
  });
  describe('laws', () => {
    const part = fc.oneof(smallNumber, token('.', '_', '~', '^', 'a', 'git', 'rc'));
    const version = fc
      .tuple(token('', '1:'), fc.array(part, { minLength: 1, maxLength: 5 }), token('', '-1', '-2.el9'))
      .map(([e, parts, rel]) => `${e}${parts.join('')}${rel}`);
    describeLaws(compare, version);
  });
});
