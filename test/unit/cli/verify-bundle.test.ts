import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ExitCode, runCli } from '../../../src/cli/program.js';
import { testdataRoot } from '../../support/testdata.js';

const conformance = new URL('sigstore-conformance/bundle-verify/', testdataRoot);
const path = (relative: string): string => fileURLToPath(new URL(relative, conformance));
const identity =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const issuer = 'https://token.actions.githubusercontent.com';
const aTxtDigest = 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf';

/** Runs the CLI with captured output; the exit code and what each stream received. */
async function run(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  return { code, out: out.join(''), err: err.join('') };
}

const keyless = (bundle: string, artifact: string, extra: readonly string[] = []): string[] => [
  'verify-bundle',
  '--bundle',
  path(`${bundle}/bundle.sigstore.json`),
  '--certificate-identity',
  identity,
  '--certificate-oidc-issuer',
  issuer,
  ...extra,
  artifact,
];

describe('cli/verify-bundle', () => {
  it('exits 0 for a valid bundle and file, against the embedded public-good root', async () => {
    const result = await run(keyless('happy-path-v0.1', path('a.txt')));
    expect(result).to.deep.include({ code: ExitCode.Ok, err: '' });
    expect(result.out).to.equal(`Verified OK: signed by ${identity}\n`);
  });

  it('exits 0 for the artifact given as sha256:<hex>', async () => {
    expect(await run(keyless('happy-path-v0.3', aTxtDigest))).to.include({ code: ExitCode.Ok, err: '' });
  });

  it('exits 0 with --key and an explicit --trusted-root', async () => {
    const root = fileURLToPath(
      new URL('sigstore-conformance/trust/trusted_root.production.json', testdataRoot),
    );
    const argv = ['verify-bundle', '--bundle', path('managed-key-happy-path/bundle.sigstore.json')];
    argv.push('--key', path('managed-key-happy-path/key.pub'), '--trusted-root', root, aTxtDigest);
    expect(await run(argv)).to.include({ code: ExitCode.Ok, err: '' });
  });

  it('exits 1 with one stderr line naming the reason when the artifact differs', async () => {
    const result = await run(keyless('wrong-material_fail', path('wrong-material_fail/artifact')));
    expect(result.code).to.equal(1);
    expect(result.out).to.equal('');
    expect(result.err).to.match(/^sigwatch: verify-bundle: DigestMismatch: [^\n]+\n$/);
  });

  it('exits 1 with BundleInvalid for a bundle that is not a valid Sigstore bundle', async () => {
    const result = await run(keyless('bundle-unknown-version_fail', aTxtDigest));
    expect(result.code).to.equal(1);
    expect(result.err).to.match(/^sigwatch: verify-bundle: BundleInvalid: [^\n]+\n$/);
  });

  describe("cosign's --certificate-github-workflow-* (real GitHub Actions leaf)", () => {
    const claims = [
      '--certificate-github-workflow-trigger',
      'workflow_dispatch',
      '--certificate-github-workflow-sha',
      'af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4',
      '--certificate-github-workflow-name',
      'Extremely dangerous OIDC beacon',
      '--certificate-github-workflow-repository',
      'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      '--certificate-github-workflow-ref',
      'refs/heads/main',
    ];

    it('exits 0 when every claim equals the leaf', async () => {
      expect(await run(keyless('happy-path-v0.1', aTxtDigest, claims))).to.include({ code: 0, err: '' });
    });

    it('exits 1 with IdentityMismatch when one differs', async () => {
      const wrong = claims.map((v) => (v === 'refs/heads/main' ? 'refs/heads/release' : v));
      const result = await run(keyless('happy-path-v0.1', aTxtDigest, wrong));
      expect(result.code).to.equal(1);
      expect(result.err).to.match(/^sigwatch: verify-bundle: IdentityMismatch: [^\n]+\n$/);
    });

    it('ignores them with --key, as cosign does, and says so', async () => {
      const argv = ['verify-bundle', '--bundle', path('managed-key-happy-path/bundle.sigstore.json')];
      argv.push('--key', path('managed-key-happy-path/key.pub'), '--certificate-github-workflow-ref', 'x');
      const result = await run([...argv, aTxtDigest]);
      expect(result.code).to.equal(0);
      expect(result.err).to.contain('ignored with --key');
    });
  });

  describe('usage errors exit 64', () => {
    const rows: [string, string[]][] = [
      [
        '--staging without --trusted-root (no staging root is embedded)',
        keyless('happy-path-v0.1', aTxtDigest, ['--staging']),
      ],
      [
        'an identity without an issuer',
        [
          'verify-bundle',
          '--bundle',
          path('happy-path-v0.1/bundle.sigstore.json'),
          '--certificate-identity',
          identity,
          aTxtDigest,
        ],
      ],
      [
        '--key with --certificate-identity',
        [...keyless('happy-path-v0.1', aTxtDigest, ['--key', path('managed-key-happy-path/key.pub')])],
      ],
      [
        'a GitHub workflow claim without identity and issuer',
        [
          'verify-bundle',
          '--bundle',
          path('happy-path-v0.1/bundle.sigstore.json'),
          '--certificate-github-workflow-trigger',
          'workflow_dispatch',
          aTxtDigest,
        ],
      ],
      ['a malformed digest', keyless('happy-path-v0.1', 'sha256:ABC')],
      ['a missing artifact file', keyless('happy-path-v0.1', path('no-such-artifact'))],
      [
        'a missing --bundle',
        [
          'verify-bundle',
          '--certificate-identity',
          identity,
          '--certificate-oidc-issuer',
          issuer,
          aTxtDigest,
        ],
      ],
    ];
    for (const [name, argv] of rows) {
      it(name, async () => {
        const result = await run(argv);
        expect(result.code).to.equal(ExitCode.Usage);
        expect(result.err).not.to.equal('');
      });
    }
  });
});
