import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { DefiniteReason, UnknownReason } from '../../../src/base/reasons.js';
import type { Authority } from '../../../src/verify/authority.js';
import { exactIdentity, regexpIdentity } from '../../../src/verify/identity.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import {
  cosignAnnotations,
  verifyLegacySignature,
  type LegacyLayer,
} from '../../../src/verify/legacy-signature.js';
import type { SignatureResult } from '../../../src/verify/result.js';
import { hasAnnotations, parseSimpleSigning } from '../../../src/verify/simple-signing.js';
import type { LoadedTrustRoot } from '../../../src/verify/trust.js';
import { loadCases, readTestdata, readTestdataBytes, testdataUrl } from '../../support/testdata.js';
import { productionTrustRoot, tlogJson, trustRoot } from '../../support/trust-roots.js';

const now = new Date('2026-06-01T00:00:00Z');

/** containers/image stores a layer as `\0sigstore-json\n` + {mimeType, payload (base64), annotations}. */
function layer(path: string): LegacyLayer {
  const raw = readTestdataBytes(`containers-image/${path}`);
  const json = JSON.parse(raw.subarray('\0sigstore-json\n'.length).toString()) as {
    payload: string;
    annotations: Record<string, string>;
  };
  return { payload: Buffer.from(json.payload, 'base64'), annotations: json.annotations };
}
const without = (l: LegacyLayer, key: string): LegacyLayer => ({
  payload: l.payload,
  annotations: Object.fromEntries(Object.entries(l.annotations).filter(([k]) => k !== key)),
});
const withAnnotation = (l: LegacyLayer, key: string, value: string): LegacyLayer => ({
  payload: l.payload,
  annotations: { ...l.annotations, [key]: value },
});
/** The image digest the harness computes: sha256 of manifest.json, when there is one. */
function manifestDigest(dir: string): Digest | undefined {
  const path = `containers-image/${dir}/manifest.json`;
  return existsSync(testdataUrl(path))
    ? (`sha256:${createHash('sha256').update(readTestdataBytes(path)).digest('hex')}` as Digest)
    : undefined;
}

const production = productionTrustRoot();

const key = (path: string, options: { trust?: LoadedTrustRoot; requireLog?: boolean } = {}): Authority => ({
  kind: 'key',
  name: path,
  publicKey: parsePublicKey(readTestdata(path)),
  requireTransparencyLog: options.requireLog ?? false,
  ...(options.trust === undefined ? {} : { trust: options.trust }),
});
const keyless = (identity: string, issuer: string, trust: LoadedTrustRoot, requireLog = true): Authority => ({
  kind: 'keyless',
  name: 'keyless',
  identity: exactIdentity(identity),
  issuer: exactIdentity(issuer),
  trust,
  requireTransparencyLog: requireLog,
});

type Outcome = true | DefiniteReason | UnknownReason;
const outcome = (r: SignatureResult): Outcome => (r.ok ? true : r.reason);
function must<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new Error('fixture missing');
  }
  return value;
}
const verify = (l: LegacyLayer, digest: Digest | undefined, authority: Authority): Outcome =>
  // No manifest means no digest: the registry layer reports DigestUnresolved and never calls the verifier.
  digest === undefined ? 'DigestUnresolved' : outcome(verifyLegacySignature(l, digest, authority, now));

// --- Scenarios: how each case and check of cases.json maps onto Sigwatch inputs, and what Sigwatch answers.
interface Run {
  readonly want: readonly Outcome[];
  readonly run: () => readonly Outcome[];
  /** Set where Sigwatch deliberately answers differently from the upstream harness; says why. */
  readonly differs?: string;
}
const ci = 'containers-image/';
const validDigest = manifestDigest('dir-img-cosign-valid');
const fulcioDir = `${ci}dir-img-cosign-fulcio-rekor-valid/`;
const fulcioLayer = layer('dir-img-cosign-fulcio-rekor-valid/signature-1');
const fulcioDigest = manifestDigest('dir-img-cosign-fulcio-rekor-valid');
const fulcioTrust = (tlogs: readonly string[]): LoadedTrustRoot =>
  trustRoot({ cas: [readTestdata(`${fulcioDir}fulcio_v1.crt.pem`)], tlogs });
const mitr = (trust: LoadedTrustRoot, email = 'mitr@redhat.com'): Authority =>
  keyless(email, 'https://github.com/login/oauth', trust);
const keyRekorLayer = layer('dir-img-cosign-key-rekor-valid/signature-1');
const keyRekorDigest = manifestDigest('dir-img-cosign-key-rekor-valid');
const rekorPub = readTestdata(`${ci}dir-img-cosign-key-rekor-valid/rekor.pub`);
const rekorSetLayer: LegacyLayer = {
  payload: readTestdataBytes(`${ci}rekor-set/rekor-payload`),
  annotations: {
    [cosignAnnotations.signature]: readTestdata(`${ci}rekor-set/rekor-sig`).trim(),
    [cosignAnnotations.certificate]: readTestdata(`${ci}rekor-set/rekor-cert`),
    [cosignAnnotations.bundle]: readTestdata(`${ci}rekor-set/rekor-set`),
  },
};
// The rekor-set case has no manifest; the digest is the one its payload signs.
const rekorSetDigest = `sha256:fa93b01658e3a5a1686dc3ae55f170d8de487006fb53a28efcd12ab0710a2e5f` as Digest;
const brokenSets = (l: LegacyLayer): LegacyLayer[] =>
  ['', 'this is not a valid SET', JSON.stringify({ SignedEntryTimestamp: 'invalid signature' })].map((v) =>
    withAnnotation(l, cosignAnnotations.bundle, v),
  );

const cosignPub = (): Authority => key(`${ci}dir-img-cosign-valid/cosign.pub`);
const cosign2Pub = (tlogs: readonly string[] = [rekorPub]): Authority =>
  key(`${ci}dir-img-cosign-key-rekor-valid/cosign2.pub`, { trust: trustRoot({ tlogs }), requireLog: true });
const validLayer = (): LegacyLayer => layer('dir-img-cosign-valid/signature-1');

/** A check the upstream harness fails on docker-reference grounds: Sigwatch verifies, and the test pins why upstream did not. */
const digestBoundRun = (path: string, upstreamRejects: (reference: string | undefined) => boolean): Run => ({
  want: [true],
  differs: 'Sigwatch binds signatures to the digest and ignores docker-reference (formats.md §4)',
  run: () => {
    const result = verifyLegacySignature(layer(path), must(validDigest), cosignPub(), now);
    expect(upstreamRejects(result.ok ? result.payload.dockerReference : undefined)).to.equal(true);
    return [outcome(result)];
  },
});

const scenarios: Readonly<Record<string, { main: Run; checks: Readonly<Record<string, Run>> }>> = {
  'dir-img-cosign-valid': {
    main: { want: [true], run: () => [verify(validLayer(), validDigest, cosignPub())] },
    checks: {
      'image reference testing/manifest:notlatest': digestBoundRun(
        'dir-img-cosign-valid/signature-1',
        (ref) => ref !== 'testing/manifest:notlatest',
      ),
      // matchExact needs a tag in the signed reference; cosign signs the bare repository.
      'signedIdentity matchExact': digestBoundRun(
        'dir-img-cosign-valid/signature-1',
        (ref) => !/:[^/]*$/.test(ref ?? ':'),
      ),
      'keyPaths [cosign.pub, cosign2.pub] / [cosign2.pub, cosign.pub]': {
        want: [true, 'KeyMismatch'],
        run: () => [
          verify(validLayer(), validDigest, cosignPub()),
          verify(validLayer(), validDigest, key(`${ci}dir-img-cosign-valid/cosign2.pub`)),
        ],
      },
      'signature annotation removed': {
        want: ['SignatureInvalid'],
        run: () => [verify(without(validLayer(), cosignAnnotations.signature), validDigest, cosignPub())],
      },
    },
  },
  'dir-img-cosign-mixed': {
    main: {
      want: ['KeyMismatch', true],
      run: () =>
        ['signature-1', 'signature-2'].map((s) =>
          verify(layer(`dir-img-cosign-mixed/${s}`), manifestDigest('dir-img-cosign-mixed'), cosignPub()),
        ),
    },
    checks: {},
  },
  'dir-img-cosign-manifest-digest-error_fail': {
    main: {
      want: ['DigestMismatch'],
      run: () => [
        verify(validLayer(), manifestDigest('dir-img-cosign-manifest-digest-error_fail'), cosignPub()),
      ],
    },
    checks: {},
  },
  'dir-img-cosign-no-manifest_fail': {
    main: {
      want: ['DigestUnresolved'],
      run: () => [verify(validLayer(), manifestDigest('dir-img-cosign-no-manifest_fail'), cosignPub())],
    },
    checks: {},
  },
  'dir-img-cosign-other-attachment_fail': {
    main: {
      want: ['SignatureInvalid'],
      run: () => [
        verify(layer('dir-img-cosign-other-attachment_fail/signature-1'), validDigest, cosignPub()),
      ],
    },
    checks: {},
  },
  'dir-img-cosign-valid-with-tag': {
    main: {
      want: [true],
      run: () => [verify(layer('dir-img-cosign-valid-with-tag/signature-1'), validDigest, cosignPub())],
    },
    checks: {
      'image reference ...:othertag with matchExact': digestBoundRun(
        'dir-img-cosign-valid-with-tag/signature-1',
        (ref) => ref === '192.168.64.2:5000/skopeo-signed:tag',
      ),
    },
  },
  'dir-img-cosign-key-rekor-valid': {
    main: { want: [true], run: () => [verify(keyRekorLayer, keyRekorDigest, cosign2Pub())] },
    checks: {
      'Rekor public key = cosign.pub (wrong key)': {
        want: ['TransparencyLogMissing'],
        run: () => [
          verify(
            keyRekorLayer,
            keyRekorDigest,
            cosign2Pub([readTestdata(`${ci}dir-img-cosign-valid/cosign.pub`)]),
          ),
        ],
      },
      'SET annotation removed / replaced by "this is not a valid SET"': {
        want: [
          'TransparencyLogMissing',
          'TransparencyLogMissing',
          'TransparencyLogMissing',
          'TransparencyLogMissing',
        ],
        run: () =>
          [without(keyRekorLayer, cosignAnnotations.bundle), ...brokenSets(keyRekorLayer)].map((l) =>
            verify(l, keyRekorDigest, cosign2Pub()),
          ),
      },
      'this SET grafted onto dir-img-cosign-valid/signature-1 (cosign.pub) with keyPaths [cosign.pub, cosign2.pub]':
        {
          want: ['TransparencyLogMissing', 'KeyMismatch'],
          run: () => {
            const grafted = withAnnotation(
              validLayer(),
              cosignAnnotations.bundle,
              keyRekorLayer.annotations[cosignAnnotations.bundle] ?? '',
            );
            const cosignPubLogged = key(`${ci}dir-img-cosign-valid/cosign.pub`, {
              trust: trustRoot({ tlogs: [rekorPub] }),
              requireLog: true,
            });
            return [
              verify(grafted, validDigest, cosignPubLogged),
              verify(grafted, validDigest, cosign2Pub()),
            ];
          },
        },
    },
  },
  'dir-img-cosign-fulcio-rekor-valid': {
    main: { want: [true], run: () => [verify(fulcioLayer, fulcioDigest, mitr(fulcioTrust([rekorPub])))] },
    checks: {
      'subjectEmail this-does-not-match@example.com': {
        want: ['IdentityMismatch'],
        run: () => [
          verify(fulcioLayer, fulcioDigest, mitr(fulcioTrust([rekorPub]), 'this-does-not-match@example.com')),
        ],
      },
      'Rekor key cosign.pub (mismatch)': {
        want: ['TransparencyLogMissing'],
        run: () => [
          verify(fulcioLayer, fulcioDigest, mitr(fulcioTrust([readTestdata(`${fulcioDir}cosign.pub`)]))),
        ],
      },
      'no Rekor key configured (Fulcio without Rekor)': {
        want: ['TransparencyLogMissing'],
        run: () => [verify(fulcioLayer, fulcioDigest, mitr(fulcioTrust([])))],
      },
      'SET / certificate / chain annotation removed': {
        want: ['TransparencyLogMissing', 'CertificateUntrusted', 'CertificateUntrusted'],
        run: () =>
          [cosignAnnotations.bundle, cosignAnnotations.certificate, cosignAnnotations.chain].map((a) =>
            verify(without(fulcioLayer, a), fulcioDigest, mitr(fulcioTrust([rekorPub]))),
          ),
      },
      'chain annotation removed but the chain itself is configured as the trusted CA': {
        want: [true],
        run: () => {
          const trust = trustRoot({
            cas: [fulcioLayer.annotations[cosignAnnotations.chain] ?? ''],
            tlogs: [rekorPub],
          });
          return [verify(without(fulcioLayer, cosignAnnotations.chain), fulcioDigest, mitr(trust))];
        },
      },
    },
  },
  // No layers at all: nothing verifies, and image-signatures.ts concludes SignatureMissing.
  'dir-img-unsigned_fail': { main: { want: [], run: () => [] }, checks: {} },
  'rekor-set': {
    main: { want: [true], run: () => [verify(rekorSetLayer, rekorSetDigest, mitr(production))] },
    checks: {
      'verify with a different (random) ECDSA key': {
        want: ['TransparencyLogMissing'],
        run: () => {
          const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
          const random = publicKey.export({ type: 'spki', format: 'pem' }).toString();
          const trust = productionTrustRoot({ tlogs: [tlogJson(random)] });
          return [verify(rekorSetLayer, rekorSetDigest, mitr(trust))];
        },
      },
      'empty SET / "invalid signature"': {
        want: ['TransparencyLogMissing', 'TransparencyLogMissing', 'TransparencyLogMissing'],
        run: () => brokenSets(rekorSetLayer).map((l) => verify(l, rekorSetDigest, mitr(production))),
      },
    },
  },
  // Payload only, no signature upstream: Sigwatch's part is parsing it and checking the -a annotations.
  'simple-signing-payload-key': {
    main: {
      want: [true],
      run: () => {
        const parsed = parseSimpleSigning(
          readTestdataBytes('kyverno/simple-signing/payload-key/payload.json'),
        );
        const digest = 'sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108';
        const good =
          parsed.ok &&
          parsed.payload.dockerManifestDigest === digest &&
          hasAnnotations(parsed.payload, { foo: 'bar' });
        return [good ? true : 'SignatureInvalid'];
      },
    },
    checks: {},
  },
};

function assertRun(run: Run | undefined, upstream: 'pass' | 'fail'): void {
  if (run === undefined) {
    expect.fail('no scenario for this case or check: add one');
  }
  const got = run.run();
  expect(got).to.deep.equal(run.want);
  const passes = got.includes(true);
  expect(passes, run.differs ?? 'agrees with upstream').to.equal(
    run.differs === undefined ? upstream === 'pass' : upstream !== 'pass',
  );
}

const describeWant = (run: Run | undefined): string =>
  run === undefined
    ? 'no scenario'
    : `[${run.want.map((w) => (w === true ? 'ok' : w)).join(', ')}]${run.differs === undefined ? '' : ' (Sigwatch differs)'}`;

describe('verify/legacy-signature: every legacy-cosign-signature case of the fixtures', () => {
  for (const source of ['containers-image', 'kyverno']) {
    for (const c of loadCases(source, 'legacy-cosign-signature')) {
      describe(`${source}/${c.id}`, () => {
        const scenario = scenarios[c.id];
        it(`case, upstream ${c.expected} → ${describeWant(scenario?.main)}`, () => {
          assertRun(scenario?.main, c.expected);
        });
        for (const check of c.checks) {
          const run = scenario?.checks[check.name];
          it(`check "${check.name}", upstream ${check.expected} → ${describeWant(run)}`, () => {
            assertRun(run, check.expected);
          });
        }
      });
    }
  }
});

describe('verify/legacy-signature: rules beyond the upstream cases', () => {
  const production1674 = new Date(1674247893 * 1000);
  const keylessOptionalLog = (trust: LoadedTrustRoot): Authority =>
    keyless('mitr@redhat.com', 'https://github.com/login/oauth', trust, false);

  it('keyless against the public-good root: signer, SET time and validUntil = leaf notAfter', () => {
    const result = verifyLegacySignature(fulcioLayer, must(fulcioDigest), mitr(production), now);
    expect(result.ok && result.signer).to.deep.equal({
      identity: 'mitr@redhat.com',
      issuer: 'https://github.com/login/oauth',
    });
    expect(result.ok && result.signedAt?.getTime()).to.equal(production1674.getTime());
    expect(result.ok && result.timeSource).to.equal('transparency-log');
    expect(result.ok && result.transparencyLog).to.equal(true);
    expect(result.ok && result.validUntil?.toISOString()).to.equal('2023-01-20T21:01:31.000Z');
  });

  it('keyless with an RE2 identity pattern', () => {
    const authority: Authority = {
      kind: 'keyless',
      name: 'keyless',
      identity: regexpIdentity('^mitr@redhat\\.com$'),
      issuer: exactIdentity('https://github.com/login/oauth'),
      trust: production,
      requireTransparencyLog: true,
    };
    expect(outcome(verifyLegacySignature(fulcioLayer, must(fulcioDigest), authority, now))).to.equal(true);
  });

  it('keyless with another issuer is IdentityMismatch', () => {
    const authority = keyless('mitr@redhat.com', 'https://accounts.google.com', production);
    expect(outcome(verifyLegacySignature(fulcioLayer, must(fulcioDigest), authority, now))).to.equal(
      'IdentityMismatch',
    );
  });

  it('keyless expecting a GitHub workflow claim the real Fulcio leaf lacks is IdentityMismatch', () => {
    // The leaf was issued for a GitHub *login* (email SAN): none of the workflow extensions.
    const wanting = (trigger: string): Authority => {
      const base = mitr(production);
      if (base.kind !== 'keyless') throw new Error('not keyless');
      return { ...base, githubWorkflow: { trigger } };
    };
    const judge = (a: Authority): unknown =>
      outcome(verifyLegacySignature(fulcioLayer, must(fulcioDigest), a, now));
    expect(judge(wanting('push'))).to.equal('IdentityMismatch');
    expect(judge(wanting(''))).to.equal(true);
  });

  it('keyless, log not required, SET present: verified with the SET time', () => {
    const result = verifyLegacySignature(
      fulcioLayer,
      must(fulcioDigest),
      keylessOptionalLog(production),
      now,
    );
    expect(result.ok && result.signedAt?.getTime()).to.equal(production1674.getTime());
  });

  it('keyless, log not required, no SET: no trusted time, the 10-minute leaf is judged at now → CertificateExpired', () => {
    const l = without(fulcioLayer, cosignAnnotations.bundle);
    expect(
      outcome(verifyLegacySignature(l, must(fulcioDigest), keylessOptionalLog(production), now)),
    ).to.equal('CertificateExpired');
  });

  it('key, log not required: a SET that does not fit counts as absent, the key signature stands', () => {
    const grafted = withAnnotation(
      validLayer(),
      cosignAnnotations.bundle,
      keyRekorLayer.annotations[cosignAnnotations.bundle] ?? '',
    );
    const authority = key(`${ci}dir-img-cosign-valid/cosign.pub`, {
      trust: trustRoot({ tlogs: [rekorPub] }),
    });
    const result = verifyLegacySignature(grafted, must(validDigest), authority, now);
    expect(result.ok && result.transparencyLog).to.equal(false);
    expect(result.ok && result.signedAt).to.equal(undefined);
  });

  it('key, log not required, valid SET: reports the log and its time', () => {
    const authority = key(`${ci}dir-img-cosign-key-rekor-valid/cosign2.pub`, {
      trust: trustRoot({ tlogs: [rekorPub] }),
    });
    const result = verifyLegacySignature(keyRekorLayer, must(keyRekorDigest), authority, now);
    expect(result.ok && result.signedAt?.getTime()).to.equal(1674251859 * 1000);
  });

  it('key, log required but no trust material: TransparencyLogMissing', () => {
    const authority = key(`${ci}dir-img-cosign-key-rekor-valid/cosign2.pub`, { requireLog: true });
    expect(outcome(verifyLegacySignature(keyRekorLayer, must(keyRekorDigest), authority, now))).to.equal(
      'TransparencyLogMissing',
    );
  });

  it('the verified payload is returned, with its optional annotations', () => {
    const result = verifyLegacySignature(
      layer('dir-img-cosign-valid-with-tag/signature-1'),
      must(validDigest),
      cosignPub(),
      now,
    );
    expect(result.ok && result.payload.optional['creator']).to.equal('containers/image 5.21.2-dev');
  });

  const tampered = (l: LegacyLayer, edit: (json: string) => string): LegacyLayer => ({
    payload: Buffer.from(edit(Buffer.from(l.payload).toString())),
    annotations: l.annotations,
  });
  const rejections: [string, () => Outcome, Outcome][] = [
    [
      'a well-formed payload changed after signing (key) → KeyMismatch',
      () =>
        verify(
          tampered(validLayer(), (j) => j.replace('single', 'double')),
          validDigest,
          cosignPub(),
        ),
      'KeyMismatch',
    ],
    [
      'a payload that is no longer JSON (key) → SignatureInvalid',
      () =>
        verify(
          tampered(validLayer(), (j) => j.slice(1)),
          validDigest,
          cosignPub(),
        ),
      'SignatureInvalid',
    ],
    [
      'a signature annotation that is not base64 → SignatureInvalid',
      () =>
        verify(
          withAnnotation(validLayer(), cosignAnnotations.signature, 'not base64!'),
          validDigest,
          cosignPub(),
        ),
      'SignatureInvalid',
    ],
    [
      'keyless, a signature that does not fit the certificate → SignatureInvalid',
      () =>
        verify(
          withAnnotation(
            fulcioLayer,
            cosignAnnotations.signature,
            validLayer().annotations[cosignAnnotations.signature] ?? '',
          ),
          fulcioDigest,
          mitr(production),
        ),
      'SignatureInvalid',
    ],
    [
      'keyless, a certificate annotation that is not PEM → SignatureInvalid',
      () =>
        verify(
          withAnnotation(fulcioLayer, cosignAnnotations.certificate, 'garbage'),
          fulcioDigest,
          mitr(production),
        ),
      'SignatureInvalid',
    ],
    [
      'keyless, a chain annotation that is not PEM → SignatureInvalid',
      () =>
        verify(
          withAnnotation(
            fulcioLayer,
            cosignAnnotations.chain,
            '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
          ),
          fulcioDigest,
          mitr(production),
        ),
      'SignatureInvalid',
    ],
    [
      'finding 4: keyless, a certificate annotation beyond the size bound is not read → SignatureInvalid',
      () =>
        verify(
          withAnnotation(
            fulcioLayer,
            cosignAnnotations.certificate,
            `${fulcioLayer.annotations[cosignAnnotations.certificate] ?? ''}\n${' '.repeat(1 << 20)}`,
          ),
          fulcioDigest,
          mitr(production),
        ),
      'SignatureInvalid',
    ],
    [
      'keyless, a key-signed layer (no certificate) → CertificateUntrusted',
      () => verify(validLayer(), validDigest, mitr(production)),
      'CertificateUntrusted',
    ],
    [
      'keyless, signed for another image → DigestMismatch',
      () => verify(fulcioLayer, validDigest, mitr(production)),
      'DigestMismatch',
    ],
  ];
  it('finding 4: a key authority never reads the certificate and chain annotations', () => {
    const garbage = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'.repeat(1 << 14);
    const l = withAnnotation(
      withAnnotation(validLayer(), cosignAnnotations.certificate, garbage),
      cosignAnnotations.chain,
      garbage,
    );
    expect(verify(l, validDigest, cosignPub())).to.equal(true);
  });

  for (const [name, run, want] of rejections) {
    it(name, () => {
      expect(run()).to.equal(want);
    });
  }
});
