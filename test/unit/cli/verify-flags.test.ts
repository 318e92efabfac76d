import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { CliError } from '../../../src/base/errors.js';
import { ExitCode, runCli } from '../../../src/cli/program.js';
import { authorityFromFlags } from '../../../src/cli/verify-action.js';
import { matchesIdentity } from '../../../src/verify/identity.js';
import { testdataUrl } from '../../support/testdata.js';

const identity = 'https://gitlab.com/myorg/app//.gitlab-ci.yml@refs/heads/main';

/** The flags commander hands the action, keyless by default. */
const flags = (extra: Record<string, unknown>): Parameters<typeof authorityFromFlags>[0] => ({
  certificateIdentity: identity,
  insecureRegistry: [],
  registryCa: [],
  registryCacert: [],
  output: 'json',
  concurrency: '8',
  trustedRootRef: [],
  secretKey: [],
  maxEvidenceBytes: '16Mi',
  ...extra,
});

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error: unknown) {
    expect(error).to.be.instanceOf(CliError);
    expect((error as CliError).code).to.equal('UsageError');
    return (error as CliError).message;
  }
  throw new Error('no usage error');
}

/** `sigwatch verify --policy` with `authorityFlags` too: a usage error, the policy names the authorities. */
async function expectReplacedByPolicy(authorityFlags: readonly string[]): Promise<void> {
  let err = '';
  const code = await runCli(['verify', '--policy', 'p.yaml', ...authorityFlags, 'img'], {
    writeOut: () => undefined,
    writeErr: (s) => (err += s),
  });
  expect(code).to.equal(ExitCode.Usage);
  expect(err).to.contain('--policy replaces');
}

describe('cli/verify flags', () => {
  describe('finding 10: --certificate-oidc-issuer-regexp', () => {
    it('matches the issuer by RE2 pattern, unanchored like cosign', () => {
      const a = authorityFromFlags(
        flags({ certificateOidcIssuerRegexp: '^https://gitlab\\.(com|example\\.org)$' }),
      );
      if (a.kind !== 'keyless') throw new Error('not keyless');
      expect(a.issuer.kind).to.equal('regexp');
      expect(matchesIdentity(a.issuer, 'https://gitlab.example.org')).to.equal(true);
      expect(matchesIdentity(a.issuer, 'https://gitlab.example.net')).to.equal(false);
      const unanchored = authorityFromFlags(flags({ certificateOidcIssuerRegexp: 'gitlab\\.com' }));
      if (unanchored.kind !== 'keyless') throw new Error('not keyless');
      expect(matchesIdentity(unanchored.issuer, 'https://gitlab.com.evil')).to.equal(true);
    });

    it('keeps --certificate-oidc-issuer exact', () => {
      const a = authorityFromFlags(flags({ certificateOidcIssuer: 'https://gitlab.com' }));
      if (a.kind !== 'keyless') throw new Error('not keyless');
      expect(a.issuer).to.deep.equal({ kind: 'exact', value: 'https://gitlab.com' });
    });

    it('refuses both issuer flags, neither, and a pattern RE2 refuses', () => {
      expect(
        usageError(() =>
          authorityFromFlags(
            flags({
              certificateOidcIssuer: 'https://gitlab.com',
              certificateOidcIssuerRegexp: '^https://gitlab\\.com$',
            }),
          ),
        ),
      ).to.contain('exclusive');
      expect(usageError(() => authorityFromFlags(flags({})))).to.contain('--certificate-oidc-issuer-regexp');
      expect(usageError(() => authorityFromFlags(flags({ certificateOidcIssuerRegexp: '^(a$' })))).to.equal(
        '--certificate-oidc-issuer-regexp',
      );
    });

    it('is parsed by `sigwatch verify`, and replaced by the policy with --policy (usage exit code)', async () => {
      await expectReplacedByPolicy(['--certificate-oidc-issuer-regexp', '^https://x$']);
    });
  });

  describe("cosign's --certificate-github-workflow-*", () => {
    it('become exact claims of the keyless authority; an empty value is no constraint, as in cosign', () => {
      const a = authorityFromFlags(
        flags({
          certificateOidcIssuer: 'https://token.actions.githubusercontent.com',
          certificateGithubWorkflowTrigger: 'push',
          certificateGithubWorkflowSha: '',
          certificateGithubWorkflowRef: 'refs/tags/v1',
        }),
      );
      if (a.kind !== 'keyless') throw new Error('not keyless');
      expect(a.githubWorkflow).to.deep.equal({ trigger: 'push', ref: 'refs/tags/v1' });
      const none = authorityFromFlags(
        flags({ certificateOidcIssuer: 'https://x', certificateGithubWorkflowName: '' }),
      );
      expect(none).not.to.have.property('githubWorkflow');
    });

    it('are not carried by a key authority (cosign never reads them with --key)', () => {
      const a = authorityFromFlags(
        flags({
          certificateIdentity: undefined,
          key: fileURLToPath(
            testdataUrl('sigstore-conformance/bundle-verify/managed-key-happy-path/key.pub'),
          ),
          certificateGithubWorkflowTrigger: 'push',
        }),
      );
      expect(a.kind).to.equal('key');
      expect(a).not.to.have.property('githubWorkflow');
    });

    it('are replaced by the policy with --policy (usage exit code)', async () => {
      await expectReplacedByPolicy(['--certificate-github-workflow-repository', 'o/r']);
    });
  });
});
