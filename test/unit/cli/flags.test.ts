import { expect } from 'chai';
import { CliError } from '../../../src/base/errors.js';
import { oneLine, parseByteSize } from '../../../src/cli/flags.js';

describe('cli/flags', () => {
  it('folds a multi-line message onto one line', () => {
    expect(oneLine('a\n  b\nc')).to.equal('a b c');
  });

  describe('parseByteSize (finding 5: --max-evidence-bytes)', () => {
    const good: [string, number][] = [
      ['16Mi', 16 << 20],
      ['512Ki', 512 << 10],
      ['1Gi', 1 << 30],
      ['4Gi', 4 * 2 ** 30],
      ['65536', 65_536],
    ];
    for (const [value, bytes] of good) {
      it(`${value} is ${String(bytes)} bytes`, () => {
        expect(parseByteSize('--max-evidence-bytes', value)).to.equal(bytes);
      });
    }
    for (const value of ['', '16MB', '16 M', '-1Mi', '1.5Mi', '1Ki', '5Gi', 'lots', '0x100000']) {
      it(`refuses ${JSON.stringify(value)}`, () => {
        expect(() => parseByteSize('--max-evidence-bytes', value)).to.throw(CliError);
      });
    }
  });
});
