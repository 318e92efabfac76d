import { expect } from 'chai';
import { compileLicenseDenyList, deniedLicenses } from '../../../src/policy/licenses.js';

describe('policy licenses', () => {
  const deny = compileLicenseDenyList(['AGPL-3.0-only', 'GPL-2.0', 'SSPL-1.0', 'Proprietary License']);
  const table: [string, string[]][] = [
    ['AGPL-3.0-only', ['AGPL-3.0-only']],
    ['agpl-3.0-ONLY', ['agpl-3.0-ONLY']],
    ['MIT', []],
    ['MIT OR AGPL-3.0-only', []],
    ['AGPL-3.0-only OR SSPL-1.0', ['AGPL-3.0-only', 'SSPL-1.0']],
    ['MIT AND AGPL-3.0-only', ['AGPL-3.0-only']],
    ['(MIT OR Apache-2.0) AND SSPL-1.0', ['SSPL-1.0']],
    ['MIT OR (Apache-2.0 AND AGPL-3.0-only)', []],
    ['(AGPL-3.0-only OR SSPL-1.0) AND MIT', ['AGPL-3.0-only', 'SSPL-1.0']],
    ['GPL-2.0 WITH Classpath-exception-2.0', ['GPL-2.0']],
    ['GPL-2.0+', ['GPL-2.0+']],
    ['GPL-3.0+', []],
    ['Proprietary License', ['Proprietary License']],
    ['Apache License 2.0', []],
    ['MIT OR', []],
    ['AGPL-3.0-only OR', ['AGPL-3.0-only']],
    ['(MIT', []],
    ['AND', []],
    ['', []],
  ];
  for (const [expression, denied] of table) {
    it(`${JSON.stringify(expression)} → ${JSON.stringify(denied)}`, () => {
      expect(deniedLicenses(deny, expression)).to.deep.equal(denied);
    });
  }

  it('never denies with an empty list', () => {
    expect(deniedLicenses(compileLicenseDenyList([]), 'AGPL-3.0-only')).to.deep.equal([]);
  });

  it('gives up on hostile expressions without throwing', () => {
    expect(deniedLicenses(deny, `${'('.repeat(10_000)}MIT${')'.repeat(10_000)}`)).to.deep.equal([]);
    // Too long to read as an expression: a denied id inside it still counts (fail closed).
    const long = `${Array.from({ length: 300 }, () => 'MIT').join(' OR ')} OR AGPL-3.0-only`;
    expect(deniedLicenses(deny, long)).to.deep.equal(['AGPL-3.0-only']);
  });
});
