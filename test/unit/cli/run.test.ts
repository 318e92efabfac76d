import { expect } from 'chai';
import { CliError } from '../../../src/base/errors.js';
import { flagEnvironment, runCommand } from '../../../src/cli/run.js';

const context = {
  output: { writeOut: () => undefined, writeErr: () => undefined },
  setExitCode: () => undefined,
};

/** The `run` command's flag values with `env` as its environment and no arguments. */
const defaults = (env: NodeJS.ProcessEnv): Record<string, unknown> => runCommand(context, env).opts();

/**
 * What a pod gets for a Service named `sigwatch-api` (and one named
 * `sigwatch-probe`) when Service links are on: Kubernetes' Docker-link variables.
 */
const serviceLinks = {
  SIGWATCH_API_PORT: 'tcp://10.0.0.5:443',
  SIGWATCH_API_PORT_443_TCP: 'tcp://10.0.0.5:443',
  SIGWATCH_API_PORT_443_TCP_PROTO: 'tcp',
  SIGWATCH_API_SERVICE_HOST: '10.0.0.5',
  SIGWATCH_API_SERVICE_PORT: '443',
  SIGWATCH_PROBE_PORT: 'udp://10.0.0.6:8081',
};

describe('cli/run flag defaults from the environment', () => {
  it('ignores Service link values of SIGWATCH_* variables: the built-in defaults stay', () => {
    const flags = defaults(serviceLinks);
    expect(flags['apiPort']).to.equal('8443');
    expect(flags['probePort']).to.equal('8081');
  });

  it('still reads a real SIGWATCH_API_PORT', () => {
    expect(defaults({ SIGWATCH_API_PORT: '9443' })['apiPort']).to.equal('9443');
    expect(defaults({ SIGWATCH_API_PORT: 'off' })['apiPort']).to.equal('off');
  });

  it('passes the --api-port check with Service links set (it failed start-up before)', async () => {
    // The action's checks run in order; an unpaired TLS certificate is the
    // first one after the port's, so reaching it proves the port was accepted
    // without starting the operator.
    const cmd = runCommand(context, serviceLinks).exitOverride();
    const error = await cmd.parseAsync(['--api-tls-cert', 'cert.pem'], { from: 'user' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(CliError);
    expect((error as CliError).code).to.equal('UsageError');
    expect((error as CliError).message)
      .to.contain('--api-tls-cert')
      .and.not.contain('--api-port');
  });

  for (const [name, value, kept] of [
    ['SIGWATCH_API_PORT', 'tcp://10.0.0.5:443', false],
    ['SIGWATCH_API_PORT', 'sctp://10.0.0.5:443', false],
    ['SIGWATCH_API_PORT', '9443', true],
    ['SIGWATCH_TUF_MIRROR', 'https://tuf.example.org', true],
    // Only our own prefix is filtered: KUBECONFIG and the downward API pass as they are.
    ['KUBECONFIG', 'tcp://odd/but/ours', true],
  ] as const) {
    it(`${kept ? 'keeps' : 'drops'} ${name}=${value}`, () => {
      expect(flagEnvironment({ [name]: value })[name]).to.equal(kept ? value : undefined);
    });
  }

  it('turns --policy-reports on only for SIGWATCH_POLICY_REPORTS=true', () => {
    expect(defaults({})['policyReports']).to.equal(false);
    expect(defaults({ SIGWATCH_POLICY_REPORTS: 'true' })['policyReports']).to.equal(true);
    expect(defaults({ SIGWATCH_POLICY_REPORTS: 'yes' })['policyReports']).to.equal(false);
  });
});
