import { expect } from 'chai';
import type { NormalisedSbom } from '../../../src/sbom/model.js';
import { parsePurl } from '../../../src/sbom/purl.js';
import { findPackage } from '../../../src/sbom/query.js';
import { parseRange } from '../../../src/sbom/range.js';

const sbom: NormalisedSbom = {
  format: 'CycloneDX',
  specVersion: '1.5',
  components: [
    {
      name: 'log4j-core',
      version: '2.14.1',
      purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
      licenses: [],
    },
    {
      name: 'log4j-core',
      version: '2.17.1',
      purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1',
      licenses: [],
    },
    { name: 'log4j-core', version: '2.0-beta9', licenses: [] },
    {
      name: 'log4j-api',
      version: '2.14.1',
      purl: 'pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1',
      licenses: [],
    },
    {
      name: 'log4j-core',
      purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@not%20a%20version',
      licenses: [],
    },
  ],
  warnings: [],
};

function rule(purl: string, range?: string) {
  const p = parsePurl(purl);
  if (p === undefined) throw new Error(`bad purl ${purl}`);
  const r = range === undefined ? undefined : parseRange(range, p.type);
  return r === undefined ? { purl: p } : { purl: p, range: r };
}

describe('sbom/query', () => {
  it('matches by package identity and reports each version against the range', () => {
    const got = findPackage(sbom, rule('pkg:maven/org.apache.logging.log4j/log4j-core', '<2.17.1'));
    expect(got.map((m) => [m.component.version, m.inRange])).to.deep.equal([
      ['2.14.1', true],
      ['2.17.1', false],
      [undefined, 'unparseable'],
    ]);
  });

  it('never matches a component without a purl (names alone are ambiguous)', () => {
    const got = findPackage(sbom, rule('pkg:maven/org.apache.logging.log4j/log4j-core'));
    expect(got.every((m) => m.component.purl !== undefined)).to.equal(true);
    expect(got).to.have.lengthOf(3);
  });

  it('matches any version when the rule has no range', () => {
    expect(
      findPackage(sbom, rule('pkg:maven/org.apache.logging.log4j/log4j-api')).map((m) => m.inRange),
    ).to.deep.equal([true]);
  });
});
