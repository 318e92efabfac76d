/**
 * `sigwatch verify --policy` end to end: images in the real registries,
 * signed and attested by the real cosign (`attest --type spdxjson |
 * cyclonedx | slsaprovenance | vuln`, both formats), an unsigned `.sbom`
 * attachment, and ImagePolicy files that pass and fail for each rule.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { runCli } from '../../../src/cli/program.js';
import { attest, generateKeyPair, sign, type CosignKey, type SignatureFormat } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { cyclonedx, log4j, spdx } from '../../support/sbom-documents.js';
import { testEnv } from '../../support/testenv.js';

interface Printed {
  readonly image: string;
  readonly verdict: string;
  readonly reasons: readonly string[];
  readonly policies?: readonly { policy: string; verdict: string; exemptBecause?: string }[];
}

interface Run {
  readonly code: number;
  readonly results: readonly Printed[];
  readonly stderr: string;
}

describe('verify --policy: attestation and SBOM rules with the real cosign', function () {
  this.timeout(180_000);
  let dir: string;
  let key: CosignKey;
  let pem: string;
  const images: Record<string, PushedImage> = {};

  async function file(name: string, content: unknown): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }

  /** Pushes, signs and attests one image: `predicates` are [cosign --type, predicate] pairs. */
  async function prepare(
    name: string,
    format: SignatureFormat,
    predicates: readonly [string, unknown][],
    registry = testEnv().registry,
  ): Promise<void> {
    const img = await pushRandomImage(registry, `${randomRepo('policy')}/${name}`);
    await sign(img.ref, key, format);
    for (const [i, [type, predicate]] of predicates.entries()) {
      await attest(img.ref, key, format, type, await file(`${name}-${String(i)}.json`, predicate));
    }
    images[name] = img;
  }

  async function verify(spec: Record<string, unknown>, image: string, extra: string[] = []): Promise<Run> {
    const policy = await file(
      `policy-${String(Math.random()).slice(2)}.yaml`,
      stringify({
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImagePolicy',
        metadata: { name: 'test' },
        spec,
      }),
    );
    let out = '';
    let err = '';
    const code = await runCli(
      [
        'verify',
        '--policy',
        policy,
        '--insecure-registry',
        testEnv().registry,
        '--insecure-registry',
        testEnv().legacyRegistry,
        '-o',
        'json',
        ...extra,
        image,
      ],
      { writeOut: (t) => (out += t), writeErr: (t) => (err += t) },
    );
    return { code, results: out === '' ? [] : (JSON.parse(out) as Printed[]), stderr: err };
  }

  const ref = (name: string): string => images[name]?.ref ?? `missing image ${name}`;
  const authority = (): Record<string, unknown> => ({ name: 'release', key: { publicKey: pem } });
  const spec = (rules: Record<string, unknown>): Record<string, unknown> => ({
    match: { images: ['127.0.0.1:*/**'] },
    authorities: [authority()],
    ...rules,
  });

  async function expectVerdict(
    rules: Record<string, unknown>,
    image: string,
    verdict: string,
    reasons: string[],
  ): Promise<Run> {
    const run = await verify(spec(rules), ref(image));
    expect(run.results[0], run.stderr).to.deep.include({ verdict, reasons });
    expect(run.code).to.equal(verdict === 'NonCompliant' ? 1 : verdict === 'Unknown' ? 2 : 0);
    return run;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-policy-'));
    key = await generateKeyPair();
    pem = await readFile(key.pub, 'utf8');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const vuln = {
      invocation: { uri: 'https://example/scan' },
      scanner: { uri: 'pkg:github/aquasecurity/trivy', version: '0.50.0', result: {} },
      metadata: { scanStartedOn: now, scanFinishedOn: now },
    };
    const provenance = (builder: string): unknown => ({
      builder: { id: builder },
      buildType: 'https://github.com/slsa-framework/slsa-github-generator/generic@v1',
      invocation: { configSource: { uri: 'git+https://github.com/sigwatch/app@refs/heads/main' } },
    });
    await Promise.all([
      prepare('plain', 'bundle', []),
      // Everything wrong: log4j 2.14.1, an AGPL component, provenance from another builder, a vuln scan.
      prepare('bad', 'bundle', [
        [
          'spdxjson',
          spdx([log4j('2.14.1'), { name: 'agpl-lib', version: '1.0', license: 'AGPL-3.0-only' }], now),
        ],
        [
          'slsaprovenance',
          provenance('https://github.com/wrong/builder/.github/workflows/b.yml@refs/heads/main'),
        ],
        ['vuln', vuln],
      ]),
      // Everything right: log4j just outside the range, a dual licence, the right builder.
      prepare('good', 'bundle', [
        [
          'spdxjson',
          spdx([log4j('2.17.1'), { name: 'dual-lib', version: '1.0', license: 'MIT OR AGPL-3.0-only' }], now),
        ],
        [
          'slsaprovenance',
          provenance('https://github.com/right/builder/.github/workflows/b.yml@refs/heads/main'),
        ],
      ]),
      prepare('old', 'bundle', [['spdxjson', spdx([], '2020-01-01T00:00:00Z')]]),
      // The legacy tag format, on the registry without referrers.
      prepare('cdx', 'legacy', [['cyclonedx', cyclonedx([log4j('2.16.0')])]], testEnv().legacyRegistry),
      prepare('attached', 'bundle', []),
      (async () => {
        images['unsigned'] = await pushRandomImage(testEnv().registry, `${randomRepo('policy')}/unsigned`);
      })(),
    ]);
    // An unsigned SBOM attached the old way (`.sbom` tag): inventory only, never a verdict.
    await exec('cosign', [
      'attach',
      'sbom',
      '--sbom',
      await file('attached.spdx.json', spdx([log4j('2.17.1')], now)),
      '--type',
      'spdx',
      '--allow-http-registry',
      ref('attached'),
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const denyLog4j = {
    sbom: {
      deny: { packages: [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' }] },
    },
  };

  it('requires listed attestations: missing, wrong predicate type, present', async () => {
    const needCdx = { attestations: [{ name: 'sbom', predicateType: 'cyclonedx' }] };
    await expectVerdict(needCdx, 'plain', 'NonCompliant', ['AttestationMissing']);
    await expectVerdict(needCdx, 'bad', 'NonCompliant', ['AttestationMissing']); // spdx, provenance and vuln only
    await expectVerdict({ attestations: [{ name: 'scan', predicateType: 'vuln' }] }, 'bad', 'Compliant', []);
    await expectVerdict(needCdx, 'cdx', 'Compliant', []);
  });

  it('denies a package in the range and allows it just outside (SPDX and CycloneDX, both formats)', async () => {
    await expectVerdict(denyLog4j, 'bad', 'NonCompliant', ['SbomDeniedPackage']);
    await expectVerdict(denyLog4j, 'good', 'Compliant', []);
    await expectVerdict(denyLog4j, 'cdx', 'NonCompliant', ['SbomDeniedPackage']);
  });

  it('denies a licence, but not one offered as an alternative', async () => {
    const rules = { sbom: { deny: { licenses: ['AGPL-3.0-only'] } } };
    await expectVerdict(rules, 'bad', 'NonCompliant', ['SbomDeniedLicense']);
    await expectVerdict(rules, 'good', 'Compliant', []);
  });

  it('rejects an SBOM older than maxAge and an undated one', async () => {
    const rules = { sbom: { maxAge: '720h' } };
    await expectVerdict(rules, 'old', 'NonCompliant', ['SbomTooOld']);
    await expectVerdict(rules, 'good', 'Compliant', []);
    await expectVerdict(rules, 'cdx', 'NonCompliant', ['SbomUndated']);
  });

  it('checks the provenance builder', async () => {
    const rules = {
      attestations: [
        {
          name: 'prov',
          predicateType: 'slsaprovenance',
          provenance: { builderIdRegExp: '^https://github\\.com/right/.+$' },
        },
      ],
    };
    await expectVerdict(rules, 'bad', 'NonCompliant', ['ProvenanceMismatch']);
    await expectVerdict(rules, 'good', 'Compliant', []);
  });

  it('does not let an unsigned .sbom attachment satisfy sbom.required', async () => {
    await expectVerdict({ sbom: { required: true } }, 'attached', 'NonCompliant', ['SbomMissing']);
    await expectVerdict({ sbom: { required: true } }, 'good', 'Compliant', []);
  });

  it('honours an unexpired exception and ignores an expired one', async () => {
    const exception = (expires: string): Record<string, unknown> => ({
      exceptions: [{ images: [images['unsigned']?.repository ?? ''], reason: 'SEC-142', expires }],
    });
    await expectVerdict(exception('2020-01-01T00:00:00Z'), 'unsigned', 'NonCompliant', ['SignatureMissing']);
    const run = await expectVerdict(exception('2099-01-01T00:00:00Z'), 'unsigned', 'Exempt', []);
    expect(run.results[0]?.policies?.[0]?.exemptBecause).to.equal('SEC-142');
  });

  it('is Unknown, never NonCompliant, when the registry cannot be reached', async () => {
    const down = `127.0.0.1:1/app@sha256:${'ab'.repeat(32)}`;
    const run = await verify(spec({ sbom: { required: true } }), down, [
      '--insecure-registry',
      '127.0.0.1:1',
    ]);
    expect(run.results[0]).to.deep.include({ verdict: 'Unknown', reasons: ['RegistryUnavailable'] });
    expect(run.code).to.equal(2);
  });

  it('refuses a policy file with an unknown field, naming it', async () => {
    const run = await verify(spec({ sbom: { requried: true } }), ref('good'));
    expect(run.code).to.equal(64);
    expect(run.stderr).to.contain('spec.sbom.requried');
  });
});
