/**
 * verifyBundle behaviour the fixture corpus does not reach: key authorities
 * on certificate bundles, authorities without trust roots, log-optional
 * authorities facing broken log entries, identity matching, future times.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { X509Certificate } from '@sigstore/core';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { KeyAuthority, KeylessAuthority } from '../../../src/verify/authority.js';
import { verifyBundle, type Artifact } from '../../../src/verify/bundle.js';
import { leafProfileProblem } from '../../../src/verify/bundle-signature.js';
import { exactIdentity, regexpIdentity } from '../../../src/verify/identity.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import { loadTrustedRoot } from '../../../src/verify/trust.js';
import { productionTrustedRoot, readJson, testdataRoot } from '../../support/testdata.js';

const conformance = new URL('sigstore-conformance/bundle-verify/', testdataRoot);
const now = new Date();
const trust = loadTrustedRoot(readJson(productionTrustedRoot));
const aTxt: Artifact = {
  kind: 'digest',
  digest: 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf' as Digest,
};
const beacon =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
const githubIssuer = 'https://token.actions.githubusercontent.com';

function bundleJson(dir: string): Record<string, unknown> {
  return readJson(new URL(`${dir}/bundle.sigstore.json`, conformance)) as Record<string, unknown>;
}

function keyless(overrides: Partial<KeylessAuthority> = {}): KeylessAuthority {
  return {
    kind: 'keyless',
    name: 'keyless',
    identity: exactIdentity(beacon),
    issuer: exactIdentity(githubIssuer),
    trust,
    requireTransparencyLog: true,
    ...overrides,
  };
}

const managedKey = parsePublicKey(
  readFileSync(new URL('managed-key-happy-path/key.pub', conformance), 'utf8'),
);

function key(overrides: Partial<KeyAuthority> = {}): KeyAuthority {
  return {
    kind: 'key',
    name: 'key',
    publicKey: managedKey,
    trust,
    requireTransparencyLog: true,
    ...overrides,
  };
}

/** The managed-key bundle with its SET's bytes flipped: the entry no longer verifies. */
function tamperedSet(dir: string): Record<string, unknown> {
  const json = bundleJson(dir);
  const material = json['verificationMaterial'] as { tlogEntries: Record<string, Record<string, string>>[] };
  const promise = material.tlogEntries[0]?.['inclusionPromise'];
  if (promise?.['signedEntryTimestamp'] === undefined) throw new Error('fixture has no SET');
  const set = Buffer.from(promise['signedEntryTimestamp'], 'base64');
  set[set.length - 1] = (set[set.length - 1] ?? 0) ^ 1;
  promise['signedEntryTimestamp'] = set.toString('base64');
  return json;
}

describe('verify/bundle-signature', () => {
  describe('key authorities', () => {
    it('accept the managed-key bundle with its key, with a verified log time', () => {
      const result = verifyBundle(bundleJson('managed-key-happy-path'), aTxt, key(), now);
      expect(result).to.include({ ok: true, transparencyLog: true, timeSource: 'transparency-log' });
    });

    it('KeyMismatch for another key', () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
      const result = verifyBundle(bundleJson('managed-key-happy-path'), aTxt, key({ publicKey: other }), now);
      expect(result).to.include({ ok: false, reason: 'KeyMismatch' });
    });

    it("ignore a certificate bundle's material: its signature must verify with the authority key", () => {
      const json = bundleJson('happy-path-v0.3');
      const material = json['verificationMaterial'] as { certificate: { rawBytes: string } };
      const leaf = X509Certificate.parse(Buffer.from(material.certificate.rawBytes, 'base64'));
      const certKey = createPublicKey({ key: leaf.publicKey, format: 'der', type: 'spki' });
      expect(verifyBundle(json, aTxt, key({ publicKey: certKey }), now)).to.include({ ok: true });
      expect(verifyBundle(json, aTxt, key(), now)).to.include({ ok: false, reason: 'KeyMismatch' });
    });

    it('without a trust root: the log counts as absent', () => {
      const untrusted: KeyAuthority = {
        kind: 'key',
        name: 'key',
        publicKey: managedKey,
        requireTransparencyLog: true,
      };
      const optional = verifyBundle(
        bundleJson('managed-key-happy-path'),
        aTxt,
        { ...untrusted, requireTransparencyLog: false },
        now,
      );
      expect(optional).to.include({ ok: true, transparencyLog: false });
      expect(optional).not.to.have.property('signedAt');
      const required = verifyBundle(bundleJson('managed-key-happy-path'), aTxt, untrusted, now);
      expect(required).to.include({ ok: false, reason: 'TransparencyLogMissing' });
    });

    it('a broken SET: TransparencyLogMissing when the log is required, ignored when it is optional', () => {
      const json = tamperedSet('managed-key-happy-path');
      expect(verifyBundle(json, aTxt, key(), now)).to.include({
        ok: false,
        reason: 'TransparencyLogMissing',
      });
      const optional = verifyBundle(json, aTxt, key({ requireTransparencyLog: false }), now);
      expect(optional).to.include({ ok: true, transparencyLog: false });
    });
  });

  describe('keyless authorities', () => {
    it('report signer, verified time and certificate end', () => {
      const result = verifyBundle(bundleJson('happy-path-v0.1'), aTxt, keyless(), now);
      expect(result).to.deep.include({
        ok: true,
        signer: { identity: beacon, issuer: githubIssuer },
        signedAt: new Date('2023-07-12T15:56:36Z'),
        timeSource: 'transparency-log',
        transparencyLog: true,
      });
      expect(result.ok && result.validUntil?.getTime()).to.be.greaterThan(
        new Date('2023-07-12T15:56:36Z').getTime(),
      );
    });

    it('IdentityMismatch for another issuer or identity', () => {
      const json = bundleJson('happy-path-v0.1');
      const wrongIssuer = keyless({ issuer: exactIdentity('https://accounts.google.com') });
      expect(verifyBundle(json, aTxt, wrongIssuer, now)).to.include({
        ok: false,
        reason: 'IdentityMismatch',
      });
      const wrongRef = keyless({ identity: exactIdentity(beacon.replace('main', 'dev')) });
      expect(verifyBundle(json, aTxt, wrongRef, now)).to.include({ ok: false, reason: 'IdentityMismatch' });
    });

    it('match identities with RE2, unanchored as cosign does', () => {
      const json = bundleJson('happy-path-v0.1');
      const anchored = keyless({
        identity: regexpIdentity('^https://github\\.com/sigstore-conformance/.*@refs/heads/main$'),
      });
      expect(verifyBundle(json, aTxt, anchored, now)).to.include({ ok: true });
      const unanchored = keyless({ identity: regexpIdentity('extremely-dangerous') });
      expect(verifyBundle(json, aTxt, unanchored, now)).to.include({ ok: true });
    });

    it('IdentityMismatch when a GitHub workflow claim differs from the leaf (v0.1, v0.3 and a DSSE bundle)', () => {
      for (const dir of ['happy-path-v0.1', 'happy-path-v0.3', 'happy-path-intoto-in-dsse-v3']) {
        const json = bundleJson(dir);
        const right = keyless({ githubWorkflow: { trigger: 'workflow_dispatch', ref: 'refs/heads/main' } });
        expect(verifyBundle(json, aTxt, right, now), dir).to.include({ ok: true });
        const wrong = keyless({ githubWorkflow: { trigger: 'workflow_dispatch', ref: 'refs/heads/dev' } });
        const result = verifyBundle(json, aTxt, wrong, now);
        expect(result, dir).to.include({ ok: false, reason: 'IdentityMismatch' });
        expect(!result.ok && result.message, dir).to.match(/GitHub workflow ref/);
      }
    });

    it('IdentityMismatch when the trusted leaf has no GitHub extensions (private CA, GitHub SAN)', () => {
      const dir = 'intoto-with-custom-trust-root';
      const custom = loadTrustedRoot(readJson(new URL(`${dir}/trusted_root.json`, conformance)));
      const artifact: Artifact = {
        kind: 'bytes',
        bytes: readFileSync(new URL(`${dir}/artifact`, conformance)),
      };
      expect(verifyBundle(bundleJson(dir), artifact, keyless({ trust: custom }), now)).to.include({
        ok: true,
      });
      const wanting = keyless({ trust: custom, githubWorkflow: { trigger: 'workflow_dispatch' } });
      expect(verifyBundle(bundleJson(dir), artifact, wanting, now)).to.include({
        ok: false,
        reason: 'IdentityMismatch',
      });
    });

    it('a broken SET with the log optional leaves no verified time: CertificateExpired', () => {
      const json = tamperedSet('happy-path-v0.1');
      const result = verifyBundle(json, aTxt, keyless({ requireTransparencyLog: false }), now);
      expect(result).to.include({ ok: false, reason: 'CertificateExpired' });
    });

    it('refuse a verified signing time more than an hour after now', () => {
      const before = new Date('2023-07-12T14:00:00Z');
      const result = verifyBundle(bundleJson('happy-path-v0.1'), aTxt, keyless(), before);
      expect(result).to.include({ ok: false, reason: 'SignatureInvalid' });
    });
  });
});

describe('verify/bundle-signature leafProfileProblem', () => {
  const leafDer = (): Buffer<ArrayBuffer> => {
    const material = bundleJson('happy-path-v0.3')['verificationMaterial'] as {
      certificate: { rawBytes: string };
    };
    return Buffer.from(material.certificate.rawBytes, 'base64');
  };
  // DER of the codeSigning OID and of the KeyUsage bit string value "digitalSignature".
  const codeSigning = Buffer.from('06082b06010505070303', 'hex');
  const digitalSignatureBits = Buffer.from('03020780', 'hex');

  /** The leaf with `from` replaced by `to` (same length): only parsing matters here, not the signature. */
  function mutated(from: Buffer, to: Buffer): X509Certificate {
    const der = leafDer();
    const at = der.indexOf(from);
    if (at < 0) throw new Error('pattern not in the fixture leaf');
    to.copy(der, at);
    return X509Certificate.parse(der);
  }

  it('accepts a Fulcio leaf', () => {
    expect(leafProfileProblem(X509Certificate.parse(leafDer()))).to.equal(undefined);
  });

  it('refuses a leaf whose EKU is serverAuth instead of codeSigning', () => {
    const serverAuth = Buffer.from('06082b06010505070301', 'hex');
    expect(leafProfileProblem(mutated(codeSigning, serverAuth))).to.equal(
      'the certificate is not for code signing',
    );
  });

  it('refuses a leaf whose KeyUsage lacks digitalSignature', () => {
    const keyCertSign = Buffer.from('03020204', 'hex');
    expect(leafProfileProblem(mutated(digitalSignatureBits, keyCertSign))).to.equal(
      'the certificate is not for digital signatures',
    );
  });
});
