import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-apk.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-apk', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // The revision only breaks upstream ties: 1.0_p1 (newer upstream) beats 1.0-r1.
      ['1.0_rc1', '1.0', '1.0-r0', '1.0-r1', '1.0_p1', '1.0.1'],
      ['1.0_alpha', '1.0_alpha1', '1.0_beta1', '1.0_pre1', '1.0_rc', '1.0_rc0', '1.0_rc1', '1.0'],
      ['1.0', '1.0_cvs1', '1.0_svn1', '1.0_git1', '1.0_hg1', '1.0_p1', '1.0_p2', '1.0a'],
      ['1.0a', '1.0b', '1.0.1'],
      ['2.14.1-r0', '2.16.0-r0', '2.17.1-r0', '2.20.0-r0'],
      ['1.9', '1.10'],
      ['1.0_rc1-r5', '1.0-r0'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['1.0', '1.0'],
      ['1.0~abc123', '1.0~def456'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0', ['', 'v1.0', '1.0-1', '1.0_foo', '1.0ab', '1.0-r']);
  });
  describe('laws', () => {
    const version = fc
      .tuple(
        fc.array(smallNumber, { minLength: 1, maxLength: 3 }),
        token('', 'a', 'b'),
        fc.array(token('_alpha', '_rc', '_rc1', '_p', '_p2', '_git1'), { maxLength: 2 }),
        token('', '-r0', '-r1'),
      )
      .map(([n, l, s, r]) => `${n.join('.')}${l}${s.join('')}${r}`);
    describeLaws(compare, version);
  });
});
