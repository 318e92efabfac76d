import { expect } from 'chai';
import { CliError } from '../../../src/base/errors.js';
import {
  loadInput,
  oneLine,
  parseByteSize,
  readInputText,
  trustedRootFrom,
} from '../../../src/cli/inputs.js';
import { VerifyError } from '../../../src/verify/errors.js';

describe('cli/inputs', () => {
  it('turns an unreadable file into a usage error naming it', () => {
    expect(() => readInputText('/nonexistent/key.pub', 'key'))
      .to.throw(CliError)
      .with.property('message', 'cannot read key /nonexistent/key.pub');
  });

  it('turns a VerifyError or JSON error of a loader into a usage error keeping the cause', () => {
    const cause = new VerifyError('PublicKeyInvalid', 'bad');
    let caught: unknown;
    try {
      loadInput('--key', () => {
        throw cause;
      });
    } catch (error: unknown) {
      caught = error;
    }
    expect(caught).to.be.instanceOf(CliError);
    expect((caught as CliError).cause).to.equal(cause);
    expect(() => loadInput('--trusted-root', () => JSON.parse('{') as unknown)).to.throw(CliError);
  });

  it('lets other errors through (a bug is not a usage error)', () => {
    expect(() =>
      loadInput('--key', () => {
        throw new TypeError('bug');
      }),
    ).to.throw(TypeError);
  });

  it('loads the embedded public-good root when no file is given', () => {
    expect(trustedRootFrom(undefined).root.tlogs.length).to.be.above(0);
  });

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
