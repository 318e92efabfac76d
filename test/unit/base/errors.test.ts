import { expect } from 'chai';
import { CliError, SigwatchError, describeError, isSigwatchError } from '../../../src/base/errors.js';

describe('base/errors', () => {
  describe('SigwatchError', () => {
    it('keeps its code, message and cause', () => {
      const cause = new Error('socket hang up');
      const err = new SigwatchError('RegistryUnavailable', 'GET /v2/ failed', { cause });
      expect(err.code).to.equal('RegistryUnavailable');
      expect(err.message).to.equal('GET /v2/ failed');
      expect(err.cause).to.equal(cause);
      expect(err.name).to.equal('SigwatchError');
    });

    it('names subclasses after themselves', () => {
      expect(new CliError('UsageError', 'x').name).to.equal('CliError');
    });

    it('recognises an error branded by another copy of the module', () => {
      // What a second copy of errors.ts would create: a plain Error carrying the global brand.
      const foreign = Object.assign(new Error('from elsewhere'), {
        code: 'UsageError',
        [Symbol.for('sigwatch.error')]: ['CliError', 'SigwatchError'],
      });
      expect(foreign instanceof SigwatchError).to.equal(true);
      expect(isSigwatchError(foreign)).to.equal(true);
      // The CLI's lazy imports can make such a copy in tests: its CliError must still be a usage error.
      expect(foreign instanceof CliError).to.equal(true);
    });

    it('does not take another Sigwatch error of the other copy for a CliError', () => {
      const foreign = Object.assign(new Error('from elsewhere'), {
        code: 'ManifestInvalid',
        [Symbol.for('sigwatch.error')]: ['RegistryError', 'SigwatchError'],
      });
      expect(foreign instanceof SigwatchError).to.equal(true);
      expect(foreign instanceof CliError).to.equal(false);
    });

    it('keeps the prototype check for subclasses', () => {
      const base = new SigwatchError('X', 'base');
      expect(base instanceof CliError).to.equal(false);
      expect(new CliError('UsageError', 'u') instanceof CliError).to.equal(true);
      expect(new Error('plain') instanceof SigwatchError).to.equal(false);
    });
  });

  describe('describeError', () => {
    const cases: { name: string; input: unknown; want: string }[] = [
      { name: 'a plain Error', input: new Error('boom'), want: 'boom' },
      { name: 'a string', input: 'bare string', want: 'bare string' },
      { name: 'an object', input: { a: 1 }, want: '{ a: 1 }' },
      {
        name: 'a cause chain',
        input: new SigwatchError('RegistryUnavailable', 'fetch failed', { cause: new Error('ECONNREFUSED') }),
        want: 'RegistryUnavailable: fetch failed: caused by: ECONNREFUSED',
      },
    ];
    for (const c of cases) {
      it(`describes ${c.name}`, () => {
        expect(describeError(c.input)).to.equal(c.want);
      });
    }

    it('stops on a cause cycle', () => {
      const a = new Error('a');
      const b = new Error('b', { cause: a });
      Object.defineProperty(a, 'cause', { value: b });
      expect(describeError(a).split(': caused by: ')).to.have.lengthOf(8);
    });
  });
});
