import { expect } from 'chai';
import { parseRange, rangeContains, type Range } from '../../../src/sbom/range.js';

function range(text: string, purlType: string): Range {
  const r = parseRange(text, purlType);
  if (r === undefined) throw new Error(`test fixture ${text} does not parse`);
  return r;
}

type Row = readonly [version: string, expected: boolean | 'unparseable'];

function table(text: string, purlType: string, rows: readonly Row[]): void {
  describe(`${text} (${purlType})`, () => {
    for (const [version, expected] of rows) {
      it(`${version} → ${String(expected)}`, () => {
        expect(rangeContains(range(text, purlType), version)).to.equal(expected);
      });
    }
  });
}

describe('sbom/range', () => {
  describe('the issue 5 table: <2.17.1 denies what sorts below 2.17.1 in each ecosystem', () => {
    table('<2.17.1', 'maven', [
      ['2.0-beta9', true],
      ['2.0-rc1', true],
      ['2.14.1', true],
      ['2.16.0', true],
      ['2.17.1', false],
      ['2.20.0', false],
      ['2.17.1-SNAPSHOT', true],
      ['2.17.1-sp1', false],
    ]);
    table('<2.17.1', 'pypi', [
      ['2.0b9', true],
      ['2.0rc1', true],
      ['2.17.1rc1', true],
      ['2.17.1.dev3', true],
      ['2.17.1', false],
      ['2.17.1.post1', false],
      ['2.20.0', false],
      ['not-a-version', 'unparseable'],
    ]);
    table('<2.17.1', 'npm', [
      ['2.0.0-beta.9', true],
      ['2.16.0', true],
      ['2.17.1-rc.1', true],
      ['2.17.1', false],
      ['2.17.1+build.5', false],
      ['2.20.0', false],
      ['2.17', 'unparseable'],
    ]);
    table('<v2.17.1', 'golang', [
      ['v2.16.0', true],
      ['v2.17.1-0.20191109021931-daa7c04131f5', true],
      ['v2.17.1', false],
      ['v2.20.0+incompatible', false],
      ['2.16.0', 'unparseable'],
    ]);
    table('<2.17.1', 'deb', [
      ['2.17.1~rc1-1', true],
      ['2.16.0-3', true],
      ['2.17.1', false],
      ['2.17.1-1', false],
      ['1:1.0', false],
      ['latest', 'unparseable'],
    ]);
    table('<2.17.1', 'rpm', [
      ['2.17.1~rc1', true],
      ['2.16.0-3.el9', true],
      ['2.17.1', false],
      ['2.17.1^git1', false],
      ['1:1.0-1', false],
    ]);
    table('<2.17.1', 'apk', [
      ['2.17.1_rc1-r0', true],
      ['2.16.0-r3', true],
      ['2.17.1', false],
      ['2.17.1-r0', false],
      ['2.17.1_p1-r0', false],
      ['v2.17', 'unparseable'],
    ]);
  });

  describe('vers: intervals', () => {
    table('vers:maven/>=2.0.0|<2.17.1', 'maven', [
      ['1.9', false],
      ['2.0-beta9', false],
      ['2.0.0', true],
      ['2.14.1', true],
      ['2.17.1', false],
    ]);
    table('vers:npm/1.2.3', 'npm', [
      ['1.2.3', true],
      ['1.2.4', false],
    ]);
    table('vers:npm/>=1.0.0|<2.0.0|>=3.0.0|<4.0.0', 'npm', [
      ['0.9.0', false],
      ['1.5.0', true],
      ['2.5.0', false],
      ['3.0.0', true],
      ['4.0.0', false],
    ]);
    table('vers:npm/<2.0.0|>=3.0.0', 'npm', [
      ['1.0.0', true],
      ['2.5.0', false],
      ['9.0.0', true],
    ]);
    table('vers:gem/>=2.2.0|!=2.2.1|<2.3.0', 'gem', [
      ['2.2.1', false],
      ['2.2.0', 'unparseable'],
    ]);
    table('vers:npm/>=2.2.0|!=2.2.1|<2.3.0', 'npm', [
      ['2.2.0', true],
      ['2.2.1', false],
      ['2.2.5', true],
      ['2.3.0', false],
    ]);
    table('vers:deb/*', 'deb', [
      ['1.0', true],
      ['anything at all', true],
    ]);
    table('vers:pypi/<1.0%2Blocal', 'maven', [
      ['1.0', true],
      ['1.0+local', false],
    ]);
  });

  describe('short style', () => {
    table('>=2.0,<2.17.1', 'maven', [
      ['1.0', false],
      ['2.0', true],
      ['2.17.0', true],
      ['2.17.1', false],
    ]);
    table('=1.2.3', 'npm', [
      ['1.2.3', true],
      ['1.2.4', false],
    ]);
    table('!=1.2.3', 'npm', [
      ['1.2.3', false],
      ['1.2.4', true],
    ]);
    table('<1.0.0 || >=2.0.0', 'npm', [
      ['0.5.0', true],
      ['1.5.0', false],
      ['2.0.0', true],
    ]);
    table('*', 'npm', [['x', true]]);
    table('=1.1.1w', 'generic', [
      ['1.1.1w', true],
      ['1.1.1x', false],
    ]);
    table('<1.1.1w', 'generic', [['1.1.1a', 'unparseable']]);
  });

  describe('rejects malformed ranges', () => {
    const rows: readonly (readonly [string, string])[] = [
      ['', 'maven'],
      ['<', 'npm'],
      ['<<1.0.0', 'npm'],
      ['<1.2', 'npm'],
      ['>=1.0.0,', 'npm'],
      ['vers:npm', 'npm'],
      ['vers:npm/', 'npm'],
      ['vers:npm/>=1.0.0|', 'npm'],
      ['vers:pypi/<1.0%', 'pypi'],
      ['vers:1x/1.0', 'npm'],
      ['< 1.0 beta', 'deb'],
    ];
    for (const [text, type] of rows) {
      it(`${JSON.stringify(text)} (${type})`, () => {
        expect(parseRange(text, type)).to.equal(undefined);
      });
    }
  });
});
