import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-golang.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-golang', () => {
  describe('orders', () => {
    describeAscending(compare, [
      ['v0.0.0-20191109021931-daa7c04131f5', 'v0.0.0-20201109021931-aaaaaaaaaaaa', 'v0.0.0', 'v0.1.0'],
      // A pseudo-version after v1.2.3 sorts between it and v1.2.4 (go.dev/ref/mod#pseudo-versions).
      ['v1.2.3', 'v1.2.4-0.20191109021931-daa7c04131f5', 'v1.2.4'],
      ['v1.2.4-pre', 'v1.2.4-pre.0.20191109021931-daa7c04131f5', 'v1.2.4'],
      ['v2.14.1', 'v2.16.0', 'v2.17.1', 'v2.20.0', 'v2.20.1+incompatible'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [['v2.0.0+incompatible', 'v2.0.0']]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, 'v1.0.0', ['', '1.0.0', 'v1', 'v1.2', 'vv1.0.0', 'v01.0.0', 'master']);
  });
  describe('laws', () => {
    const version = fc
      .tuple(
        smallNumber,
        smallNumber,
        smallNumber,
        token('', '-0.20191109021931-daa7c04131f5', '-rc.1', '-pre'),
      )
      .map(([a, b, c, pre]) => `v${a}.${b}.${c}${pre}`);
    describeLaws(compare, version);
  });
});
