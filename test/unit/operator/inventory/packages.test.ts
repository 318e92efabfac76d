import { expect } from 'chai';
import { containersWithPackage, type RunningContainer } from '../../../../src/operator/inventory/packages.js';
import type { SignedSbom } from '../../../../src/policy/verification-cache.js';
import type { SbomComponent } from '../../../../src/sbom/model.js';
import { parsePurl, purlKey } from '../../../../src/sbom/purl.js';
import { parseRange } from '../../../../src/sbom/range.js';

const log4j = (version: string): SbomComponent => ({
  name: 'log4j-core',
  version,
  purl: `pkg:maven/org.apache.logging.log4j/log4j-core@${version}`,
  licenses: [],
});
const other: SbomComponent = {
  name: 'guava',
  version: '33.0',
  purl: 'pkg:maven/com.google.guava/guava@33.0',
  licenses: [],
};

/** A signed SBOM as the verification cache builds it (sorted package keys over the components). */
function signed(components: SbomComponent[]): SignedSbom {
  const keyed = components
    .map((c, at) => {
      const p = parsePurl(c.purl ?? '');
      if (p === undefined) throw new Error(`fixture purl ${String(c.purl)}`);
      return { key: purlKey(p), at };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.at - b.at));
  return {
    sbom: { format: 'SPDX', specVersion: '2.3', components, warnings: [] },
    packageKeys: keyed.map((k) => k.key),
    packageComponents: Uint32Array.from(keyed, (k) => k.at),
    licenses: [],
  } as unknown as SignedSbom;
}

const purl = parsePurl('pkg:maven/org.apache.logging.log4j/log4j-core');
if (purl === undefined) throw new Error('fixture purl');
const range = parseRange('<2.17.1', 'maven');
const vulnerable = signed([other, log4j('2.14.1')]);
const fixed = signed([log4j('2.17.1')]);
const sboms = new Map<string, SignedSbom[]>([
  ['r/a@sha256:a', [vulnerable, vulnerable]], // two authorities signed the same SBOM
  ['r/b@sha256:b', [fixed]],
  ['r/c@sha256:c', []], // nobody signed an SBOM for it
]);
const running: RunningContainer[] = [
  { namespace: 'shop', pod: 'cart-1', container: 'app', image: 'r/a:1', digestKey: 'r/a@sha256:a' },
  { namespace: 'billing', pod: 'pay-1', container: 'app', image: 'r/a:1', digestKey: 'r/a@sha256:a' },
  { namespace: 'shop', pod: 'web-1', container: 'app', image: 'r/b:2', digestKey: 'r/b@sha256:b' },
  { namespace: 'shop', pod: 'job-1', container: 'app', image: 'r/c:3', digestKey: 'r/c@sha256:c' },
];

describe('operator/inventory', () => {
  it('finds the package across namespaces, once per container, with whether the version is in range', () => {
    const hits = containersWithPackage(
      { purl, ...(range === undefined ? {} : { range }) },
      running,
      (d) => sboms.get(d) ?? [],
    );
    expect(hits.map((h) => [h.namespace, h.pod, h.version, h.inRange])).to.deep.equal([
      ['shop', 'cart-1', '2.14.1', true],
      ['billing', 'pay-1', '2.14.1', true],
      ['shop', 'web-1', '2.17.1', false],
    ]);
  });

  it('searches each digest once however many pods run it', () => {
    let asked = 0;
    containersWithPackage({ purl }, running, (d) => {
      asked++;
      return sboms.get(d) ?? [];
    });
    expect(asked).to.equal(3);
  });

  it('finds nothing for a package no SBOM lists', () => {
    const absent = parsePurl('pkg:npm/left-pad');
    if (absent === undefined) throw new Error('fixture purl');
    expect(containersWithPackage({ purl: absent }, running, (d) => sboms.get(d) ?? [])).to.deep.equal([]);
  });
});
