import fc from 'fast-check';
import { compare } from '../../../src/sbom/version-pypi.js';
import {
  describeAscending,
  describeEqual,
  describeLaws,
  describeUnparseable,
  smallNumber,
  token,
} from './version-laws.js';

describe('sbom/version-pypi', () => {
  describe('orders', () => {
    describeAscending(compare, [
      // PEP 440 "Summary of permitted suffixes and relative ordering".
      ['1.0.dev456', '1.0a1', '1.0a2.dev456', '1.0a12.dev456', '1.0a12', '1.0b1.dev456', '1.0b2'],
      ['1.0b2.post345.dev456', '1.0b2.post345', '1.0rc1.dev456', '1.0rc1', '1.0', '1.0+abc.5', '1.0+abc.7'],
      ['1.0+5', '1.0.post456.dev34', '1.0.post456', '1.0.15', '1.1.dev1'],
      ['1.0.dev1', '1.0a1', '1.0b1', '1.0rc1', '1.0', '1.0.post1'],
      ['2.14.1', '2.16.0', '2.17.1', '2.20.0'],
      ['1.0', '1.0+abc', '1.0+1'],
      ['2.0', '1!0.1'],
    ]);
  });
  describe('treats as equal', () => {
    describeEqual(compare, [
      ['1.0', '1.0.0'],
      ['v1.0', '1.0'],
      ['1.0alpha1', '1.0a1'],
      ['1.0-c1', '1.0rc1'],
      ['1.0.preview2', '1.0rc2'],
      ['1.0-1', '1.0.post1'],
      ['1.0rev1', '1.0.post1'],
      ['1.0.dev', '1.0.dev0'],
      ['0!1.0', '1.0'],
      ['1.0RC1', '1.0rc1'],
      ['1.0+Ubuntu.1', '1.0+ubuntu-1'],
    ]);
  });
  describe('rejects', () => {
    describeUnparseable(compare, '1.0', ['', '2004d', '1.0-beta-final', 'latest', '1..0']);
  });
  describe('laws', () => {
    const version = fc
      .tuple(
        token('', '1!'),
        fc.array(smallNumber, { minLength: 1, maxLength: 3 }),
        token('', 'a1', 'b2', 'rc1', 'rc'),
        token('', '.post1', '.post2', '-3'),
        token('', '.dev0', '.dev1'),
        token('', '+abc', '+1', '+abc.2'),
      )
      .map(([e, r, pre, post, dev, local]) => `${e}${r.join('.')}${pre}${post}${dev}${local}`);
    describeLaws(compare, version);
  });
});
