import { expect } from 'chai';
import { ComponentInterner } from '../../../src/sbom/intern.js';
import type { SbomComponent } from '../../../src/sbom/model.js';

/** A fresh object each call, as each parsed document brings its own. */
const log4j = (licenses: string[] = ['Apache-2.0']): SbomComponent => ({
  name: 'log4j-core',
  version: '2.14.1',
  purl: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
  licenses,
});

describe('sbom/intern', () => {
  it('gives equal components from different documents one shared, frozen object', () => {
    const interner = new ComponentInterner();
    const a = interner.intern(log4j());
    const b = interner.intern(log4j());
    expect(b.component).to.equal(a.component);
    expect(b).to.equal(a);
    expect(a.component).to.deep.equal(log4j());
    expect(Object.isFrozen(a.component)).to.equal(true);
    expect(Object.isFrozen(a.component.licenses)).to.equal(true);
    expect(interner.size).to.equal(1);
  });

  it('keeps components apart that differ in any field, including absent against empty', () => {
    const interner = new ComponentInterner();
    const variants: SbomComponent[] = [
      log4j(),
      log4j(['MIT']),
      log4j([]),
      log4j(['Apache-2.0', 'MIT']),
      { ...log4j(), version: '2.17.1' },
      { name: 'log4j-core', licenses: [] },
      { name: 'log4j-core', version: '', licenses: [] },
      { name: 'log4j-core', purl: '', licenses: [] },
      // A field boundary moved: the separator keeps these apart.
      { name: 'a', version: 'b', licenses: [] },
      { name: 'a\u0000b', licenses: [] },
    ];
    const shared = new Set(variants.map((v) => interner.intern(v).component));
    expect(shared.size).to.equal(variants.length);
  });

  it('computes the package key once, and none for an unparseable purl', () => {
    const interner = new ComponentInterner();
    expect(interner.intern(log4j()).packageKey).to.equal('maven/org.apache.logging.log4j/log4j-core');
    expect(interner.intern({ name: 'x', purl: 'not a purl', licenses: [] }).packageKey).to.equal(undefined);
    expect(interner.intern({ name: 'x', licenses: [] }).packageKey).to.equal(undefined);
  });
});
