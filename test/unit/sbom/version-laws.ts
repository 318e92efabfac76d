/**
 * Shared table and property checks for the `version-*.ts` comparators:
 * ascending chains (each neighbour pair one `it`), equal pairs, rejected
 * inputs, and fast-check laws (reflexive, antisymmetric, transitive).
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { VersionComparator } from '../../../src/sbom/version-order.js';

/** Each list is strictly ascending; every neighbour pair becomes one test. */
export function describeAscending(compare: VersionComparator, chains: readonly (readonly string[])[]): void {
  for (const chain of chains) {
    for (let i = 0; i + 1 < chain.length; i++) {
      const a = chain[i] ?? '';
      const b = chain[i + 1] ?? '';
      it(`${a} < ${b}`, () => {
        expect(compare(a, b)).to.equal(-1);
        expect(compare(b, a)).to.equal(1);
      });
    }
  }
}

export function describeEqual(
  compare: VersionComparator,
  pairs: readonly (readonly [string, string])[],
): void {
  for (const [a, b] of pairs) {
    it(`${a} = ${b}`, () => {
      expect(compare(a, b)).to.equal(0);
      expect(compare(b, a)).to.equal(0);
    });
  }
}

export function describeUnparseable(compare: VersionComparator, valid: string, bad: readonly string[]): void {
  for (const text of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(compare(text, valid)).to.equal(undefined);
      expect(compare(valid, text)).to.equal(undefined);
    });
  }
}

/** The three order laws over versions drawn from `version`. */
export function describeLaws(compare: VersionComparator, version: fc.Arbitrary<string>): void {
  it('is reflexive and every generated version parses', () => {
    fc.assert(fc.property(version, (a) => compare(a, a) === 0));
  });
  it('is antisymmetric', () => {
    fc.assert(fc.property(version, version, (a, b) => compare(a, b) === -(compare(b, a) ?? Number.NaN)));
  });
  it('is transitive', () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        const ab = compare(a, b) ?? Number.NaN;
        const bc = compare(b, c) ?? Number.NaN;
        const ac = compare(a, c) ?? Number.NaN;
        // a <= b <= c implies a <= c, and strictly if either step is strict.
        if (!(ab <= 0 && bc <= 0)) return true;
        return ab < 0 || bc < 0 ? ac < 0 : ac === 0;
      }),
    );
  });
}

/** Picks one of a small alphabet of tokens, so generated versions collide and tie often. */
export const token = <T>(...values: T[]): fc.Arbitrary<T> => fc.constantFrom(...values);
export const smallNumber = fc.integer({ min: 0, max: 12 }).map(String);
