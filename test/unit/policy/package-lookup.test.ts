import { expect } from 'chai';
import type { SbomComponent } from '../../../src/sbom/model.js';
import { componentsOfPackage, type SignedSbom } from '../../../src/policy/verification-cache.js';

const component = (name: string): SbomComponent => ({ name, licenses: [] });
const components = ['b1', 'c', 'b2', 'a'].map(component);
const signed = {
  sbom: { format: 'SPDX', specVersion: '2.3', components, warnings: [] },
  packageKeys: ['npm//a', 'npm//b', 'npm//b', 'npm//c'],
  packageComponents: Uint32Array.from([3, 0, 2, 1]),
  licenses: [],
} as unknown as SignedSbom;

describe('policy/verification-cache componentsOfPackage', () => {
  const rows: readonly [string, string[]][] = [
    ['npm//a', ['a']],
    ['npm//b', ['b1', 'b2']],
    ['npm//c', ['c']],
    ['npm//', []],
    ['npm//bb', []],
    ['zzz', []],
    ['', []],
  ];
  for (const [key, want] of rows) {
    it(`${JSON.stringify(key)} → [${want.join(', ')}]`, () => {
      expect(componentsOfPackage(signed, key).map((c) => c.name)).to.deep.equal(want);
    });
  }
});
