import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-deb.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-deb', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // deb-version(7): `~` sorts before everything, even the end of the string.
      ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a'],
      ['1.0~rc1', '1.0', '1.0+b1', '1.0.1'],
      ['1.0-1', '1.0-1ubuntu1', '1.0-1ubuntu1.1', '1.0-2'],
      ['2.14.1-1', '2.16.0-1', '2.17.1-1', '2.20.0-1'],
      ['9.9', '1:0.1', '2:0.1'],
      ['1.9', '1.10'],
      ['3.0.2-0ubuntu1.10', '3.0.2-0ubuntu1.12'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['0:1.0', '1.0'],
      ['1.0', '1.0-0'],
      ['1.01', '1.1'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0', ['', 'a1.0', 'x:1.0', '1.0-', '1.0 beta', '1_0']);
  });
  describe('laws', () => {
    const part = fc.oneof(smallNumber, token('.', '+', '~', 'a', 'b', 'rc', 'ubuntu'));
    const version = fc
      .tuple(
        token('', '1:'),
        smallNumber,
        fc.array(part, { maxLength: 4 }),
        token('', '-1', '-1ubuntu1', '-0~1'),
      )
      .map(([e, head, rest, rev]) => `${e}${head}${rest.join('')}${rev}`);
    describeLaws(compare, version);
  });
});
