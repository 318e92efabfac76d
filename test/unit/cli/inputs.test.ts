import { expect } from 'chai';
import { CliError } from '../../../src/base/errors.js';
import { loadInput, readInputText } from '../../../src/cli/inputs.js';
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
});
