/**
 * The signature check end to end: images in the real registries, signed by
 * the real cosign (keys, and certificates from a test CA standing in for
 * Fulcio), in both formats, then judged by Sigwatch — including each way a
 * signature can be wrong, with the reason design §3 names for it.
 */
import { expect } from 'chai';
import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { Digest } from '../../../src/base/digest.js';
import { runCli } from '../../../src/cli/program.js';
import { RegistryClient, type Repository } from '../../../src/registry/client.js';
import { collectEvidence } from '../../../src/registry/evidence.js';
import type { Authority } from '../../../src/verify/authority.js';
import { exactIdentity, regexpIdentity } from '../../../src/verify/identity.js';
import { checkImageSignatures, type SignatureCheck } from '../../../src/verify/image-signatures.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import { loadTrustedRoot } from '../../../src/verify/trust.js';
import { generateKeyPair, importCertificateKey, sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { digestTag, getBlob, getManifest, pushBlob, pushManifest } from '../../support/oci-http.js';
import { createTestCa, createTrustedRoot, issueLeaf, type TestCa } from '../../support/test-ca.js';
import { testEnv } from '../../support/testenv.js';

const identity = 'https://github.com/sigwatch/app/.github/workflows/release.yml@refs/heads/main';
const issuer = 'https://issuer.test';
const day = 24 * 3600 * 1000;

async function keyAuthority(key: CosignKey): Promise<Authority> {
  return {
    kind: 'key',
    name: 'release-key',
    publicKey: parsePublicKey(await readFile(key.pub, 'utf8')),
    requireTransparencyLog: false,
  };
}

async function caAuthority(
  ca: TestCa,
  id = exactIdentity(identity),
  iss = exactIdentity(issuer),
): Promise<Authority> {
  // The same trusted root cosign itself would use.
  const out = await createTrustedRoot(ca);
  const trust = loadTrustedRoot(JSON.parse(await readFile(out, 'utf8')) as unknown);
  return { kind: 'keyless', name: 'ci', identity: id, issuer: iss, trust, requireTransparencyLog: false };
}

describe('verify: image signatures against real registries and cosign', function () {
  this.timeout(120_000);
  let client: RegistryClient;
  let key: CosignKey;
  let otherKey: CosignKey;

  before(async () => {
    client = new RegistryClient({ plainHttpRegistries: [testEnv().registry, testEnv().legacyRegistry] });
    key = await generateKeyPair();
    otherKey = await generateKeyPair();
  });
  after(async () => {
    await client.close();
  });

  async function check(
    img: PushedImage,
    authorities: Authority[],
    now = new Date(),
    extra: Repository[] = [],
  ): Promise<SignatureCheck> {
    const [registry = '', ...path] = img.repository.split('/');
    const evidence = await collectEvidence(client, {
      image: { registry, repository: path.join('/') },
      digest: img.digest as Digest,
      extraRepositories: extra,
      now,
      signal: AbortSignal.timeout(30_000),
    });
    return checkImageSignatures(evidence, authorities, now);
  }

  const reasons = (c: SignatureCheck): readonly string[] => (c.verdict === 'Compliant' ? [] : c.reasons);

  for (const [format, where] of [
    ['legacy', 'registry'],
    ['bundle', 'registry'],
    ['bundle', 'legacyRegistry'],
  ] as const) {
    it(`accepts a key signature in the ${format} format on ${where === 'registry' ? 'olareg' : 'the registry without referrers'}`, async () => {
      const img = await pushRandomImage(testEnv()[where], randomRepo());
      await sign(img.ref, key, format);
      const c = await check(img, [await keyAuthority(key)]);
      expect(c.verdict).to.equal('Compliant');
    });
  }

  it('finds no signature on an unsigned image: SignatureMissing', async () => {
    const img = await pushRandomImage(testEnv().registry, randomRepo());
    const c = await check(img, [await keyAuthority(key)]);
    expect(c.verdict).to.equal('NonCompliant');
    expect(reasons(c)).to.deep.equal(['SignatureMissing']);
  });

  for (const format of ['legacy', 'bundle'] as const) {
    it(`rejects a ${format} signature by another key: KeyMismatch`, async () => {
      const img = await pushRandomImage(testEnv().registry, randomRepo());
      await sign(img.ref, otherKey, format);
      const c = await check(img, [await keyAuthority(key)]);
      expect(reasons(c)).to.deep.equal(['KeyMismatch']);
    });
  }

  it('accepts either of two authorities (alternatives)', async () => {
    const img = await pushRandomImage(testEnv().registry, randomRepo());
    await sign(img.ref, otherKey, 'bundle');
    const c = await check(img, [await keyAuthority(key), await keyAuthority(otherKey)]);
    expect(c.verdict).to.equal('Compliant');
  });

  it('rejects a legacy signature copied from another image: DigestMismatch', async () => {
    const registry = testEnv().registry;
    const repo = randomRepo();
    const signed = await pushRandomImage(registry, repo);
    const victim = await pushRandomImage(registry, repo);
    await sign(signed.ref, key, 'legacy');
    const sig = await getManifest(registry, repo, digestTag(signed.digest, '.sig'));
    if (sig.body === undefined) throw new Error('no .sig manifest');
    await pushManifest(registry, repo, sig.body, digestTag(victim.digest, '.sig'));
    const c = await check(victim, [await keyAuthority(key)]);
    expect(reasons(c)).to.deep.equal(['DigestMismatch']);
  });

  it('rejects a tampered legacy payload', async () => {
    const registry = testEnv().registry;
    const repo = randomRepo();
    const img = await pushRandomImage(registry, repo);
    await sign(img.ref, key, 'legacy');
    const tag = digestTag(img.digest, '.sig');
    const sig = await getManifest(registry, repo, tag);
    const layer = sig.body?.layers?.[0];
    if (sig.body === undefined || layer === undefined) throw new Error('no .sig manifest');
    const payload = JSON.parse(
      new TextDecoder().decode(await getBlob(registry, repo, layer.digest)),
    ) as Record<string, unknown>;
    payload['optional'] = { tampered: 'yes' };
    const blob = await pushBlob(
      registry,
      repo,
      new TextEncoder().encode(JSON.stringify(payload)),
      layer.mediaType,
    );
    await pushManifest(
      registry,
      repo,
      { ...sig.body, layers: [{ ...layer, digest: blob.digest, size: blob.size }] },
      tag,
    );
    const c = await check(img, [await keyAuthority(key)]);
    // Under a key, "tampered payload" cannot be told from "signed by another
    // key" (legacy-signature.ts, step 3): a well-formed signature that fails is KeyMismatch.
    expect(reasons(c)).to.deep.equal(['KeyMismatch']);
  });

  it('finds signatures stored in another repository (source.repository)', async () => {
    const registry = testEnv().registry;
    const img = await pushRandomImage(registry, randomRepo());
    const sigRepo = randomRepo('sigwatch-signatures');
    await sign(img.ref, key, 'legacy', { repository: `${registry}/${sigRepo}` });
    expect((await check(img, [await keyAuthority(key)])).verdict).to.equal('NonCompliant');
    const c = await check(img, [await keyAuthority(key)], new Date(), [{ registry, repository: sigRepo }]);
    expect(c.verdict).to.equal('Compliant');
  });

  describe('certificates from a test CA standing in for Fulcio', () => {
    let ca: TestCa;
    let signer: CosignKey;

    before(async () => {
      ca = await createTestCa();
      signer = await importCertificateKey(await issueLeaf(ca, identity, issuer, 1));
    });

    for (const format of ['legacy', 'bundle'] as const) {
      it(`accepts the right identity and issuer (${format})`, async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, signer, format);
        const c = await check(img, [await caAuthority(ca)]);
        expect(c.verdict).to.equal('Compliant');
        expect(c.verdict === 'Compliant' && c.accepted[0]?.signer.identity).to.equal(identity);
      });

      it(`rejects a wrong identity and a wrong issuer: IdentityMismatch (${format})`, async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, signer, format);
        const wrongId = await check(img, [
          await caAuthority(ca, regexpIdentity('^https://github\\.com/other/.+$')),
        ]);
        expect(reasons(wrongId)).to.deep.equal(['IdentityMismatch']);
        const wrongIssuer = await check(img, [
          await caAuthority(ca, exactIdentity(identity), exactIdentity('https://other.test')),
        ]);
        expect(reasons(wrongIssuer)).to.deep.equal(['IdentityMismatch']);
      });

      it(`requires a transparency-log entry when the authority does (the keyless default): TransparencyLogMissing (${format})`, async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, signer, format);
        const logRequired = { ...(await caAuthority(ca)), requireTransparencyLog: true };
        const c = await check(img, [logRequired]);
        expect(reasons(c)).to.deep.equal(['TransparencyLogMissing']);
      });

      it(`rejects a certificate from another CA: CertificateUntrusted (${format})`, async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, signer, format);
        const c = await check(img, [await caAuthority(await createTestCa('another-ca'))]);
        expect(reasons(c)).to.deep.equal(['CertificateUntrusted']);
      });

      it(`rejects a certificate that has expired with no trusted signing time: CertificateExpired (${format})`, async () => {
        const img = await pushRandomImage(testEnv().registry, randomRepo());
        await sign(img.ref, signer, format);
        const c = await check(img, [await caAuthority(ca)], new Date(Date.now() + 3 * day));
        expect(reasons(c)).to.deep.equal(['CertificateExpired']);
      });
    }
  });

  describe('sigwatch verify (CLI)', () => {
    async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
      let out = '';
      let err = '';
      const code = await runCli(args, { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
      return { code, out, err };
    }

    it('exits 0 for signed, 1 when any image definitely fails, 2 when any is undecided', async () => {
      const registry = testEnv().registry;
      const signed = await pushRandomImage(registry, randomRepo(), { tag: 'v1' });
      await sign(signed.ref, key, 'bundle');
      const unsigned = await pushRandomImage(registry, randomRepo());
      const base = ['verify', '--key', key.pub, '--insecure-registry', registry, '-o', 'json'];

      const ok = await cli([...base, `${signed.repository}:v1`]);
      expect(ok.code, ok.err).to.equal(0);
      const parsed = JSON.parse(ok.out) as { verdict: string; digest: string }[];
      expect(parsed[0]?.verdict).to.equal('Compliant');
      expect(parsed[0]?.digest).to.equal(signed.digest);

      expect((await cli([...base, signed.ref, unsigned.ref])).code).to.equal(1);
      // Nothing listens on port 1: undecided, never "unsigned".
      const down = await cli([
        ...base,
        '--insecure-registry',
        '127.0.0.1:1',
        `127.0.0.1:1/app@${signed.digest}`,
        signed.ref,
      ]);
      expect(down.code).to.equal(2);
      expect((JSON.parse(down.out) as { reasons: string[] }[])[0]?.reasons).to.deep.equal([
        'RegistryUnavailable',
      ]);
    });

    it('reads signatures from --signature-repository', async () => {
      const registry = testEnv().registry;
      const img = await pushRandomImage(registry, randomRepo());
      const sigRepo = `${registry}/${randomRepo('sigwatch-signatures')}`;
      await sign(img.ref, key, 'legacy', { repository: sigRepo });
      const base = ['verify', '--key', key.pub, '--insecure-registry', registry];
      expect((await cli([...base, img.ref])).code).to.equal(1);
      const found = await cli([...base, '--signature-repository', sigRepo, img.ref]);
      expect(found.code, found.out + found.err).to.equal(0);
      // cosign's environment variable, as a script written for cosign sets it.
      process.env['COSIGN_REPOSITORY'] = sigRepo;
      try {
        const viaEnv = await cli([...base, img.ref]);
        expect(viaEnv.code, viaEnv.out + viaEnv.err).to.equal(0);
      } finally {
        delete process.env['COSIGN_REPOSITORY'];
      }
    });

    it("accepts cosign's registry flags: --allow-http-registry, --registry-cacert, --allow-insecure-registry", async () => {
      const registry = testEnv().registry;
      const img = await pushRandomImage(registry, randomRepo());
      await sign(img.ref, key, 'bundle');
      // No --insecure-registry: --allow-http-registry speaks HTTP to the image's own registry.
      const http = await cli(['verify', '--key', key.pub, '--allow-http-registry', img.ref]);
      expect(http.code, http.out + http.err).to.equal(0);
      const without = await cli(['verify', '--key', key.pub, img.ref]);
      expect(without.code, 'HTTPS to a plain-HTTP registry fails').to.equal(2);
      // --registry-cacert reads its file like --registry-ca: a missing one is a usage error naming it.
      const cacert = await cli([
        'verify',
        '--key',
        key.pub,
        '--registry-cacert',
        '/nonexistent/ca.pem',
        img.ref,
      ]);
      expect(cacert.code).to.equal(64);
      expect(cacert.err).to.contain('/nonexistent/ca.pem');
      // Accepted, never honoured: TLS is always verified, and the user is told so.
      const insecure = await cli([
        'verify',
        '--key',
        key.pub,
        '--allow-http-registry',
        '--allow-insecure-registry',
        img.ref,
      ]);
      expect(insecure.code, insecure.err).to.equal(0);
      expect(insecure.err).to.contain('TLS is always verified');
    });

    it('verifies keyless with --trusted-root, requiring the log unless --insecure-ignore-tlog', async () => {
      const registry = testEnv().registry;
      const ca = await createTestCa();
      const signer = await importCertificateKey(await issueLeaf(ca, identity, issuer, 1));
      const img = await pushRandomImage(registry, randomRepo());
      await sign(img.ref, signer, 'bundle');
      const root = await createTrustedRoot(ca);
      const base = [
        'verify',
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        '--trusted-root',
        root,
        '--insecure-registry',
        registry,
        '-o',
        'json',
      ];
      const strict = await cli([...base, img.ref]);
      expect(strict.code).to.equal(1);
      expect((JSON.parse(strict.out) as { reasons: string[] }[])[0]?.reasons).to.deep.equal([
        'TransparencyLogMissing',
      ]);
      const lenient = await cli([...base, '--insecure-ignore-tlog', img.ref]);
      expect(lenient.code, lenient.out + lenient.err).to.equal(0);
      const wrong = await cli([
        ...base,
        '--insecure-ignore-tlog',
        '--certificate-identity',
        'https://other',
        img.ref,
      ]);
      expect((JSON.parse(wrong.out) as { reasons: string[] }[])[0]?.reasons).to.deep.equal([
        'IdentityMismatch',
      ]);
    });

    it('finding 10: matches the OIDC issuer by --certificate-oidc-issuer-regexp and by keyless.issuerRegExp', async () => {
      const registry = testEnv().registry;
      const ca = await createTestCa();
      const signer = await importCertificateKey(await issueLeaf(ca, identity, issuer, 1));
      const img = await pushRandomImage(registry, randomRepo());
      await sign(img.ref, signer, 'bundle');
      const root = await createTrustedRoot(ca);
      const common = ['--insecure-registry', registry, '-o', 'json'];
      const flags = [
        'verify',
        '--certificate-identity',
        identity,
        '--trusted-root',
        root,
        '--insecure-ignore-tlog',
      ];
      const reasonsOf = (out: string): string[] =>
        (JSON.parse(out) as { reasons: string[] }[])[0]?.reasons ?? [];

      const pattern = await cli([
        ...flags,
        ...common,
        '--certificate-oidc-issuer-regexp',
        '^https://issuer\\.(test|example)$',
        img.ref,
      ]);
      expect(pattern.code, pattern.out + pattern.err).to.equal(0);
      const other = await cli([
        ...flags,
        ...common,
        '--certificate-oidc-issuer-regexp',
        '^https://issuer\\.example$',
        img.ref,
      ]);
      expect(other.code).to.equal(1);
      expect(reasonsOf(other.out)).to.deep.equal(['IdentityMismatch']);
      const both = await cli([
        ...flags,
        '--certificate-oidc-issuer',
        issuer,
        '--certificate-oidc-issuer-regexp',
        '^https://issuer\\.test$',
        img.ref,
      ]);
      expect(both.code).to.equal(64);
      expect(both.err).to.contain('exclusive');

      // The same through an ImagePolicy, with an unanchored pattern: accepted, with a warning.
      const policy = async (issuerRegExp: string): Promise<string> => {
        const path = `${ca.dir}/policy-${String(Math.random()).slice(2)}.yaml`;
        await writeFile(
          path,
          stringify({
            apiVersion: 'sigwatch.dev/v1alpha1',
            kind: 'ImagePolicy',
            metadata: { name: 'keyless' },
            spec: {
              match: { images: ['127.0.0.1:*/**'] },
              authorities: [
                {
                  name: 'ci',
                  keyless: { issuerRegExp, subject: identity, trustedRootRef: { name: 'test-ca' } },
                  requireTransparencyLog: false,
                },
              ],
            },
          }),
        );
        return path;
      };
      const byPolicy = (path: string): Promise<{ code: number; out: string; err: string }> =>
        cli(['verify', '--policy', path, '--trusted-root-ref', `test-ca=${root}`, ...common, img.ref]);
      const anchored = await byPolicy(await policy('^https://issuer\\.(test|example)$'));
      expect(anchored.code, anchored.out + anchored.err).to.equal(0);
      expect(anchored.err).to.equal('');
      const unanchored = await byPolicy(await policy('issuer\\.test'));
      expect(unanchored.code, unanchored.out + unanchored.err).to.equal(0);
      expect(unanchored.err).to.contain('keyless.issuerRegExp').and.to.contain('not anchored');
      const wrong = await byPolicy(await policy('^https://issuer\\.example$'));
      expect(wrong.code).to.equal(1);
      expect(reasonsOf(wrong.out)).to.deep.equal(['IdentityMismatch']);
    });

    it('refuses contradictory flags with the usage exit code', async () => {
      const r = await cli(['verify', '--key', key.pub, '--certificate-identity', identity, 'x']);
      expect(r.code).to.equal(64);
      expect(r.err).to.contain('exclusive');
    });
  });
});
