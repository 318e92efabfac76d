import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-semver.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-semver', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // SemVer 2.0.0 §11 example.
      ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11'],
      ['1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1'],
      ['2.0.0-beta.9', '2.0.0-rc.1', '2.0.0', '2.14.1', '2.16.0', '2.17.1', '2.20.0'],
      ['1.9.0', '1.10.0'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['1.0.0+build.1', '1.0.0+build.2'],
      ['v1.2.3', '1.2.3'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0.0', ['', '1.2', '01.2.3', '^1.2.3', ' 1.2.3', 'latest']);
  });
  describe('laws', () => {
    const version = fc
      .tuple(smallNumber, smallNumber, smallNumber, token('', '-alpha', '-alpha.1', '-beta', '-rc.1', '-1'))
      .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre}`);
    describeLaws(compare, version);
  });
});
