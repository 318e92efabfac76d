import { expect } from 'chai';
import { ExitCode, runCli } from '../../../src/cli/program.js';

function capture(): {
  out: string[];
  err: string[];
  output: { writeOut: (s: string) => void; writeErr: (s: string) => void };
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    output: {
      writeOut: (s) => out.push(s),
      writeErr: (s) => err.push(s),
    },
  };
}

describe('cli/program', () => {
  it('prints usage for --help and exits 0', async () => {
    const c = capture();
    expect(await runCli(['--help'], c.output)).to.equal(ExitCode.Ok);
    expect(c.out.join('')).to.match(/^Usage: sigwatch /);
    expect(c.out.join('')).to.contain('Exit codes: 0 success, 64 usage error');
  });

  it('prints the package version for --version', async () => {
    const c = capture();
    expect(await runCli(['--version'], c.output)).to.equal(ExitCode.Ok);
    expect(c.out.join('').trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  it('rejects an unknown flag with the usage exit code, never 1 or 2 (verdict codes)', async () => {
    const c = capture();
    expect(await runCli(['--no-such-flag'], c.output)).to.equal(ExitCode.Usage);
    expect(c.err.join('')).to.contain("unknown option '--no-such-flag'");
  });

  it('prints one error and a hint for a usage error, not the whole help', async () => {
    const c = capture();
    expect(await runCli(['verify', '--no-such-flag', 'img'], c.output)).to.equal(ExitCode.Usage);
    expect(c.err.join('')).to.equal("error: unknown option '--no-such-flag'\n(run with --help for usage)\n");
  });
});
