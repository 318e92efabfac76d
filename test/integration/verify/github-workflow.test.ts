/**
 * cosign's `--certificate-github-workflow-*` (Sigwatch issue 19, item 10):
 * the real cosign and Sigwatch given the same flags on the same evidence must
 * give the same answer, and that answer is checked too (two verifiers broken
 * the same way must not pass).
 *
 *  - `sigwatch verify-bundle` against `cosign verify-blob`, on real bundles of
 *    the Sigstore conformance suite: public-good Fulcio leaves issued to a
 *    GitHub Actions workflow (they carry …1.2–…1.6 and the newer …1.9–…1.22),
 *    a private-CA leaf with a GitHub SAN and none of those extensions, and a
 *    key-signed bundle. Offline: each case's trusted root is given, and cosign
 *    cannot reach anything but loopback (test/support/cosign.ts).
 *  - `sigwatch verify` against `cosign verify`, on images cosign signed with a
 *    test-CA leaf carrying the same extensions, in both signature formats: no
 *    Fulcio runs here, so the test CA stands in for it (test/support/test-ca.ts).
 */
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { runCli } from '../../../src/cli/program.js';
import {
  cosignOutcome,
  generateKeyPair,
  importCertificateKey,
  sign,
  type CosignKey,
  type SignatureFormat,
} from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import {
  createTestCa,
  createTrustedRoot,
  githubWorkflowExtensions,
  issueLeaf,
} from '../../support/test-ca.js';
import { productionTrustedRoot, testdataUrl } from '../../support/testdata.js';
import { testEnv } from '../../support/testenv.js';

type Outcome = 'pass' | 'fail';

async function sigwatch(argv: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { code, out, err };
}

const flag = {
  trigger: '--certificate-github-workflow-trigger',
  sha: '--certificate-github-workflow-sha',
  name: '--certificate-github-workflow-name',
  repository: '--certificate-github-workflow-repository',
  ref: '--certificate-github-workflow-ref',
} as const;

describe("verify: cosign's --certificate-github-workflow-* agree with cosign", function () {
  this.timeout(120_000);

  describe('verify-bundle and cosign verify-blob, on real GitHub Actions bundles', () => {
    const conformance = (path: string): string =>
      fileURLToPath(testdataUrl(`sigstore-conformance/bundle-verify/${path}`));
    const production = fileURLToPath(productionTrustedRoot);
    const beacon = {
      identity:
        'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
      issuer: 'https://token.actions.githubusercontent.com',
      trigger: 'workflow_dispatch',
      name: 'Extremely dangerous OIDC beacon',
      repository: 'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      ref: 'refs/heads/main',
    };
    const keyless = ['--certificate-identity', beacon.identity, '--certificate-oidc-issuer', beacon.issuer];
    const allFive = (sha: string): string[] => [
      ...[flag.trigger, beacon.trigger, flag.sha, sha, flag.name, beacon.name],
      ...[flag.repository, beacon.repository, flag.ref, beacon.ref],
    ];
    const v01Sha = 'af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4';
    const dsseSha = '82a3bfe6dd50fe9c71d6315eae66da15307856cf';

    interface Row {
      readonly what: string;
      readonly bundle: string;
      readonly artifact: string;
      readonly root: string;
      readonly flags: readonly string[];
      readonly want: Outcome;
    }
    const v01 = { bundle: 'happy-path-v0.1', artifact: 'a.txt', root: production };
    const dsse = { bundle: 'happy-path-intoto-in-dsse-v3', artifact: 'a.txt', root: production };
    const custom = {
      bundle: 'intoto-with-custom-trust-root',
      artifact: 'intoto-with-custom-trust-root/artifact',
      root: conformance('intoto-with-custom-trust-root/trusted_root.json'),
    };
    const rows: Row[] = [
      { what: 'no workflow flag', ...v01, flags: keyless, want: 'pass' },
      { what: 'all five claims equal', ...v01, flags: [...keyless, ...allFive(v01Sha)], want: 'pass' },
      { what: 'another trigger', ...v01, flags: [...keyless, flag.trigger, 'push'], want: 'fail' },
      {
        what: 'the sha in upper case',
        ...v01,
        flags: [...keyless, flag.sha, v01Sha.toUpperCase()],
        want: 'fail',
      },
      {
        what: 'the workflow name with a trailing space',
        ...v01,
        flags: [...keyless, flag.name, `${beacon.name} `],
        want: 'fail',
      },
      {
        // …1.12 (source repository URI) holds exactly this: no fallback to the newer extensions.
        what: "the repository as the newer extension's URL",
        ...v01,
        flags: [...keyless, flag.repository, `https://github.com/${beacon.repository}`],
        want: 'fail',
      },
      { what: 'a prefix of the ref', ...v01, flags: [...keyless, flag.ref, 'refs/heads/mai'], want: 'fail' },
      {
        what: 'an empty trigger (no constraint)',
        ...v01,
        flags: [...keyless, flag.trigger, ''],
        want: 'pass',
      },
      {
        what: 'a DSSE bundle, all five equal',
        ...dsse,
        flags: [...keyless, ...allFive(dsseSha)],
        want: 'pass',
      },
      {
        what: "a DSSE bundle, another bundle's sha",
        ...dsse,
        flags: [...keyless, flag.sha, v01Sha],
        want: 'fail',
      },
      { what: 'a leaf without the extensions, no flag', ...custom, flags: keyless, want: 'pass' },
      {
        what: 'a leaf without the extensions, the trigger its workflow had',
        ...custom,
        flags: [...keyless, flag.trigger, beacon.trigger],
        want: 'fail',
      },
      {
        what: 'a key-signed bundle with --key (cosign ignores the flags)',
        bundle: 'managed-key-happy-path',
        artifact: 'a.txt',
        root: production,
        flags: ['--key', conformance('managed-key-happy-path/key.pub'), flag.trigger, 'push', flag.ref, 'x'],
        want: 'pass',
      },
    ];

    for (const row of rows) {
      it(`${row.bundle}: ${row.what} → both ${row.want}`, async () => {
        const common = [
          '--bundle',
          conformance(`${row.bundle}/bundle.sigstore.json`),
          '--trusted-root',
          row.root,
          ...row.flags,
          conformance(row.artifact),
        ];
        const theirs = await cosignOutcome(['verify-blob', ...common]);
        const ours = await sigwatch(['verify-bundle', ...common]);
        const cosignSays: Outcome = theirs.code === 0 ? 'pass' : 'fail';
        const sigwatchSays: Outcome = ours.code === 0 ? 'pass' : 'fail';
        expect(cosignSays, `cosign: ${theirs.stderr}`).to.equal(row.want);
        expect(sigwatchSays, `sigwatch: ${ours.err}`).to.equal(row.want);
        if (row.want === 'fail') {
          expect(ours.code).to.equal(1);
          expect(ours.err).to.match(/^sigwatch: verify-bundle: IdentityMismatch: /);
          // cosign fails on the certificate identity, not on something else about the bundle.
          expect(theirs.stderr).to.contain('CertificateIdentity');
        }
      });
    }
  });

  describe('verify and cosign verify, on images signed with a test-CA GitHub workflow leaf', () => {
    const identity = 'https://github.com/sigwatch/app/.github/workflows/release.yml@refs/tags/v1.4.0';
    const issuer = 'https://token.actions.githubusercontent.com';
    const claims = {
      trigger: 'push',
      sha: '0123456789abcdef0123456789abcdef01234567',
      name: 'Release',
      repository: 'sigwatch/app',
      ref: 'refs/tags/v1.4.0',
    };
    let root: string;
    let workflowSigner: CosignKey;
    let plainSigner: CosignKey;
    let key: CosignKey;
    const signed = new Map<string, PushedImage>();

    before(async () => {
      const ca = await createTestCa();
      root = await createTrustedRoot(ca);
      const leaf = await issueLeaf(ca, identity, issuer, 1, githubWorkflowExtensions(claims));
      workflowSigner = await importCertificateKey(leaf);
      plainSigner = await importCertificateKey(await issueLeaf(ca, identity, issuer, 1));
      key = await generateKeyPair();
    });

    async function image(
      signer: 'workflow' | 'plain' | 'key',
      format: SignatureFormat,
    ): Promise<PushedImage> {
      const id = `${signer}/${format}`;
      let img = signed.get(id);
      if (img === undefined) {
        img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, { workflow: workflowSigner, plain: plainSigner, key }[signer], format);
        signed.set(id, img);
      }
      return img;
    }

    const keylessFlags = (): string[] => [
      ...['--certificate-identity', identity, '--certificate-oidc-issuer', issuer],
      ...['--trusted-root', root, '--insecure-ignore-tlog'],
    ];
    const rows: [string, 'workflow' | 'plain' | 'key', () => string[], Outcome][] = [
      ['no workflow flag', 'workflow', keylessFlags, 'pass'],
      [
        'all five claims equal',
        'workflow',
        () => [
          ...keylessFlags(),
          ...[flag.trigger, claims.trigger, flag.sha, claims.sha, flag.name, claims.name],
          ...[flag.repository, claims.repository, flag.ref, claims.ref],
        ],
        'pass',
      ],
      ['another trigger', 'workflow', () => [...keylessFlags(), flag.trigger, 'pull_request'], 'fail'],
      ['another ref', 'workflow', () => [...keylessFlags(), flag.ref, 'refs/tags/v1.4.1'], 'fail'],
      ['the name in lower case', 'workflow', () => [...keylessFlags(), flag.name, 'release'], 'fail'],
      [
        'a leaf without the extensions',
        'plain',
        () => [...keylessFlags(), flag.repository, claims.repository],
        'fail',
      ],
      [
        '--key (cosign ignores the flags)',
        'key',
        () => ['--key', key.pub, '--insecure-ignore-tlog', flag.trigger, 'x'],
        'pass',
      ],
    ];

    for (const format of ['bundle', 'legacy'] as const) {
      for (const [what, signer, flags, want] of rows) {
        it(`${format} format: ${what} → both ${want}`, async () => {
          const img = await image(signer, format);
          // The test CA's leaves have no SCT and its root lists no CT log: Sigwatch then requires none,
          // cosign must be told.
          const sct = signer === 'key' ? [] : ['--insecure-ignore-sct'];
          const theirs = await cosignOutcome([
            'verify',
            '--allow-http-registry',
            ...sct,
            ...flags(),
            img.ref,
          ]);
          const registry = ['--insecure-registry', testEnv().registry, '-o', 'json'];
          const ours = await sigwatch(['verify', ...registry, ...flags(), img.ref]);
          expect(theirs.code === 0 ? 'pass' : 'fail', `cosign: ${theirs.stderr}`).to.equal(want);
          expect(ours.code === 0 ? 'pass' : 'fail', `sigwatch: ${ours.out}${ours.err}`).to.equal(want);
          if (want === 'fail') {
            expect(ours.code).to.equal(1);
            const verdicts = JSON.parse(ours.out) as { reasons: string[] }[];
            expect(verdicts[0]?.reasons).to.deep.equal(['IdentityMismatch']);
            expect(theirs.stderr).to.match(/GitHub ?Workflow ?(Trigger|Ref|Name|Repository)/i);
          }
          if (signer === 'key') expect(ours.err).to.contain('ignored with --key');
        });
      }
    }
  });
});
