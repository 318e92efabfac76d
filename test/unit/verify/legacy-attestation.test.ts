import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { Authority } from '../../../src/verify/authority.js';
import { inTotoPayloadType, parseDsseEnvelope, preAuthEncoding } from '../../../src/verify/dsse.js';
import { exactIdentity } from '../../../src/verify/identity.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import {
  parseInTotoStatement,
  verifyLegacyAttestation,
  type LegacyAttestationLayer,
  type LegacyAttestationResult,
} from '../../../src/verify/legacy-attestation.js';
import { cosignAnnotations } from '../../../src/verify/legacy-signature.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../../src/verify/trust.js';
import { cosignBundleAnnotation, type BundleWithTlogEntries } from '../../support/sigstore-bundles.js';
import { loadCases, readCaseBytes, readCaseText, readTestdata } from '../../support/testdata.js';
import { productionTrustRoot } from '../../support/trust-roots.js';

const now = new Date('2026-06-01T00:00:00Z');

const keyAuthority = (publicKey: KeyObject): Authority => ({
  kind: 'key',
  name: 'key',
  publicKey,
  requireTransparencyLog: false,
});
const outcome = (r: LegacyAttestationResult): true | string => (r.ok ? true : r.reason);
/** The layer annotations of a key-signed `.att` layer: the signature annotation is present but empty. */
const keyLayer = (envelope: Uint8Array): LegacyAttestationLayer => ({
  envelope,
  annotations: { [cosignAnnotations.signature]: '' },
});

/** One kyverno condition: `{{ a.b }}` path, operator, value. */
interface Condition {
  readonly key: string;
  readonly operator: string;
  readonly value: unknown;
}
/** kyverno's `conditions[].all` with the `Equals` operator over `{{ a.b }}` paths of the predicate. */
function conditionsHold(policy: unknown, predicate: unknown): boolean {
  const spec = policy as {
    spec: { rules: { verifyImages: { attestations: { conditions: { all: Condition[] }[] }[] }[] }[] };
  };
  const all = spec.spec.rules[0]?.verifyImages[0]?.attestations[0]?.conditions[0]?.all ?? [];
  const lookup = (path: string): unknown =>
    path
      .replace(/^\{\{\s*|\s*\}\}$/g, '')
      .split('.')
      .reduce<unknown>(
        (v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined),
        predicate,
      );
  return all.length > 0 && all.every((c) => c.operator === 'Equals' && lookup(c.key) === c.value);
}

describe('verify/legacy-attestation: the signature part of every dsse-attestation case', () => {
  for (const c of loadCases('kyverno', 'dsse-attestation')) {
    describe(`kyverno/${c.id}`, () => {
      const envelope = readCaseBytes(c, 'envelope.dsse.json');
      const digest = c.inputs['expected_subject_digest'] as Digest;
      const policyKey = (name: string): KeyObject => {
        const policy = JSON.parse(readCaseText(c, name)) as {
          spec: { rules: { verifyImages: { key: string }[] }[] };
        };
        return parsePublicKey(policy.spec.rules[0]?.verifyImages[0]?.key ?? '');
      };
      const run = (publicKey: KeyObject): LegacyAttestationResult =>
        verifyLegacyAttestation(keyLayer(envelope), digest, keyAuthority(publicKey), now);

      it(`case, upstream ${c.expected}: verifies with cosign.pub; subject and predicate type as the collector found`, () => {
        const result = run(parsePublicKey(readCaseText(c, 'cosign.pub')));
        expect(outcome(result)).to.equal(true);
        expect(result.ok && result.statement.predicateType).to.equal(c.facts['predicateType']);
        expect(result.ok && result.statement.subject).to.deep.equal(c.facts['subject']);
      });

      const checks: Record<string, () => void> = {
        'verify with other-key.pub → KeyMismatch': () => {
          expect(outcome(run(parsePublicKey(readCaseText(c, 'other-key.pub'))))).to.equal('KeyMismatch');
        },
        'kyverno policy-good.json (CodeReview predicate, repo.branch == main) → ok, conditions hold': () => {
          const result = run(policyKey('policy-good.json'));
          expect(outcome(result)).to.equal(true);
          expect(
            conditionsHold(
              JSON.parse(readCaseText(c, 'policy-good.json')),
              result.ok && result.statement.predicate,
            ),
          ).to.equal(true);
        },
        // Upstream fails on the policy condition; the signature part still passes, and the verified predicate says main.
        'kyverno policy-bad.json (repo.branch == prod) → signature ok, condition false': () => {
          const result = run(policyKey('policy-bad.json'));
          expect(outcome(result)).to.equal(true);
          expect(
            conditionsHold(
              JSON.parse(readCaseText(c, 'policy-bad.json')),
              result.ok && result.statement.predicate,
            ),
          ).to.equal(false);
        },
      };
      for (const check of c.checks) {
        const title = Object.keys(checks).find((k) => k.startsWith(`${check.name} → `));
        it(`check "${title ?? check.name}", upstream ${check.expected}`, () => {
          const body = title === undefined ? undefined : checks[title];
          if (body === undefined) {
            expect.fail('no scenario for this check: add one');
          }
          body();
        });
      }
    });
  }

  for (const c of loadCases('cosign', 'dsse-attestation')) {
    describe(`cosign/${c.id}`, () => {
      const envelope = readCaseBytes(c, String(c.inputs['envelope']));

      it(`case, upstream ${c.expected}: an in-toto envelope whose statement has the collector’s predicate type`, () => {
        const parsed = parseDsseEnvelope(envelope);
        expect(parsed.ok && parsed.envelope.payloadType).to.equal(inTotoPayloadType);
        const statement = parsed.ok ? parseInTotoStatement(parsed.envelope.payload) : undefined;
        expect(statement?.ok && statement.statement.predicateType).to.equal(c.facts['predicateType']);
        expect(statement?.ok && statement.statement.subject).to.deep.equal(c.facts['subject']);
      });

      it('signature: no public key exists upstream, so under any key we hold it is KeyMismatch', () => {
        const digest =
          `sha256:${(c.facts['subject'] as { digest: { sha256: string } }[])[0]?.digest.sha256 ?? ''}` as Digest;
        const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
        expect(outcome(verifyLegacyAttestation(keyLayer(envelope), digest, keyAuthority(key), now))).to.equal(
          'KeyMismatch',
        );
      });
      for (const check of c.checks) {
        it(`check "${check.name}"`, () => {
          expect.fail('no scenario for this check: add one');
        });
      }
    });
  }
});

/** The `.att` layer cosign would have written for a Sigstore bundle's DSSE envelope, certificate and SET (same signed bytes). */
function layerFromSigstoreBundle(dir: string): LegacyAttestationLayer {
  const bundle = JSON.parse(readTestdata(`${dir}bundle.sigstore.json`)) as BundleWithTlogEntries & {
    verificationMaterial: {
      certificate?: { rawBytes: string };
      x509CertificateChain?: { certificates: { rawBytes: string }[] };
    };
    dsseEnvelope: unknown;
  };
  const material = bundle.verificationMaterial;
  const [leaf = '', ...chain] = material.certificate
    ? [material.certificate.rawBytes]
    : (material.x509CertificateChain?.certificates ?? []).map((c) => c.rawBytes);
  const pem = (b64: string): string =>
    `-----BEGIN CERTIFICATE-----\n${(b64.match(/.{1,64}/g) ?? []).join('\n')}\n-----END CERTIFICATE-----\n`;
  return {
    envelope: Buffer.from(JSON.stringify(bundle.dsseEnvelope)),
    annotations: {
      [cosignAnnotations.signature]: '',
      [cosignAnnotations.certificate]: pem(leaf),
      ...(chain.length > 0 ? { [cosignAnnotations.chain]: chain.map(pem).join('') } : {}),
      [cosignAnnotations.bundle]: cosignBundleAnnotation(bundle),
    },
  };
}

describe('verify/legacy-attestation: keyless layers re-packaged from Sigstore conformance bundles', () => {
  const beacon =
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
  const keyless = (trust: LoadedTrustRoot, identity = beacon): Authority => ({
    kind: 'keyless',
    name: 'keyless',
    identity: exactIdentity(identity),
    issuer: exactIdentity('https://token.actions.githubusercontent.com'),
    trust,
    requireTransparencyLog: true,
  });
  const production = productionTrustRoot();
  const dsseDir = 'sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/';
  const dsseDigest = 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf' as Digest;
  const dsseLayer = layerFromSigstoreBundle(dsseDir);

  it('dsse 0.0.1 entry, public-good root: verified, SET time, Statement v1', () => {
    const result = verifyLegacyAttestation(dsseLayer, dsseDigest, keyless(production), now);
    expect(result.ok && result.signedAt?.getTime()).to.equal(1734374576 * 1000);
    expect(result.ok && result.statement.type).to.equal('https://in-toto.io/Statement/v1');
    expect(result.ok && result.statement.predicateType).to.equal('https://slsa.dev/provenance/v1');
  });

  it('intoto 0.0.2 entry, the case’s own trust root: verified', () => {
    const dir = 'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/';
    const trust = loadTrustedRoot(JSON.parse(readTestdata(`${dir}trusted_root.json`)));
    const digest = 'sha256:330a043220fa13e01d68a7db39c89e12b0c4c3b6a0346fe624b0903f1303b5b2' as Digest;
    expect(
      outcome(verifyLegacyAttestation(layerFromSigstoreBundle(dir), digest, keyless(trust), now)),
    ).to.equal(true);
  });

  const hashedrekordSet = JSON.parse(
    readTestdata('containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1.annotations.json'),
  ) as Record<string, string>;
  const rejections: [string, () => LegacyAttestationResult, string][] = [
    [
      'another identity → IdentityMismatch',
      () =>
        verifyLegacyAttestation(dsseLayer, dsseDigest, keyless(production, 'https://github.com/other'), now),
      'IdentityMismatch',
    ],
    [
      'another image digest → DigestMismatch',
      () =>
        verifyLegacyAttestation(dsseLayer, `sha256:${'0'.repeat(64)}` as Digest, keyless(production), now),
      'DigestMismatch',
    ],
    [
      'no SET → TransparencyLogMissing',
      () => {
        const annotations = Object.fromEntries(
          Object.entries(dsseLayer.annotations).filter(([k]) => k !== cosignAnnotations.bundle),
        );
        return verifyLegacyAttestation({ ...dsseLayer, annotations }, dsseDigest, keyless(production), now);
      },
      'TransparencyLogMissing',
    ],
    [
      'a genuine SET of a hashedrekord entry → TransparencyLogMissing',
      () => {
        const annotations = {
          ...dsseLayer.annotations,
          [cosignAnnotations.bundle]: hashedrekordSet['dev.sigstore.cosign/bundle'] ?? '',
        };
        return verifyLegacyAttestation({ ...dsseLayer, annotations }, dsseDigest, keyless(production), now);
      },
      'TransparencyLogMissing',
    ],
    [
      'a payload changed after signing → SignatureInvalid (the certificate key does not fit)',
      () => {
        const env = JSON.parse(Buffer.from(dsseLayer.envelope).toString()) as { payload: string };
        const payload = Buffer.from(
          Buffer.from(env.payload, 'base64').toString().replace('a.txt', 'b.txt'),
        ).toString('base64');
        return verifyLegacyAttestation(
          { ...dsseLayer, envelope: Buffer.from(JSON.stringify({ ...env, payload })) },
          dsseDigest,
          keyless(production),
          now,
        );
      },
      'SignatureInvalid',
    ],
  ];
  for (const [name, run, want] of rejections) {
    it(name, () => {
      expect(outcome(run())).to.equal(want);
    });
  }
});

describe('verify/legacy-attestation: statements and payload types (generated key)', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hex = 'ab'.repeat(32);
  const digest = `sha256:${hex}` as Digest;
  const envelope = (payloadType: string, payload: unknown): Buffer => {
    const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const sig = sign('sha256', preAuthEncoding(payloadType, body), pair.privateKey);
    return Buffer.from(
      JSON.stringify({
        payloadType,
        payload: body.toString('base64'),
        signatures: [{ keyid: '', sig: sig.toString('base64') }],
      }),
    );
  };
  const statement = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { sha256: hex } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
    ...extra,
  });
  const v01 = 'https://in-toto.io/Statement/v0.1';
  const cases: [string, Buffer, true | string][] = [
    ['Statement v1, subject without a name → ok', envelope(inTotoPayloadType, statement()), true],
    [
      'an upper-case subject digest → ok',
      envelope(inTotoPayloadType, statement({ subject: [{ digest: { sha256: hex.toUpperCase() } }] })),
      true,
    ],
    [
      'a string predicate (cosign --type spdx) → ok',
      envelope(inTotoPayloadType, statement({ predicate: '{"spdxVersion":"SPDX-2.3"}' })),
      true,
    ],
    [
      'payloadType equal to the predicate type (early cosign/kyverno) → ok',
      envelope('https://slsa.dev/provenance/v1', statement()),
      true,
    ],
    ['another payloadType → AttestationInvalid', envelope('text/plain', statement()), 'AttestationInvalid'],
    [
      'a payload that is not a statement → AttestationInvalid',
      envelope(inTotoPayloadType, { hello: 'world' }),
      'AttestationInvalid',
    ],
    [
      'Statement v0.1 without subject names → AttestationInvalid',
      envelope(inTotoPayloadType, statement({ _type: v01 })),
      'AttestationInvalid',
    ],
    [
      'Statement v0.1 with duplicate subject names → AttestationInvalid',
      envelope(
        inTotoPayloadType,
        statement({
          _type: v01,
          subject: [
            { name: 'a', digest: { sha256: hex } },
            { name: 'a', digest: { sha512: 'ff' } },
          ],
        }),
      ),
      'AttestationInvalid',
    ],
    [
      'a subject for another digest → DigestMismatch',
      envelope(
        inTotoPayloadType,
        statement({ subject: [{ name: 'x', digest: { sha256: 'cd'.repeat(32) } }] }),
      ),
      'DigestMismatch',
    ],
    [
      'a subject with only sha512 → DigestMismatch',
      envelope(inTotoPayloadType, statement({ subject: [{ digest: { sha512: 'ff' } }] })),
      'DigestMismatch',
    ],
    ['an envelope that is not JSON → SignatureInvalid', Buffer.from('{"payloadType":'), 'SignatureInvalid'],
  ];
  for (const [name, blob, want] of cases) {
    it(name, () => {
      expect(
        outcome(verifyLegacyAttestation(keyLayer(blob), digest, keyAuthority(pair.publicKey), now)),
      ).to.equal(want);
    });
  }
});
