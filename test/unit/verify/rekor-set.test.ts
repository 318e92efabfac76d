import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { parsePublicKey } from '../../../src/verify/keys.js';
import {
  checkEntryBody,
  parseCosignBundle,
  verifySet,
  type CosignBundle,
  type EntryExpectation,
} from '../../../src/verify/rekor-set.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../../src/verify/trust.js';
import { cosignBundleAnnotation, type BundleWithTlogEntries } from '../../support/sigstore-bundles.js';
import { readTestdata, readTestdataBytes } from '../../support/testdata.js';
import { productionTrustRoot, tlogRoot } from '../../support/trust-roots.js';

const now = new Date('2026-06-01T00:00:00Z');
const production = productionTrustRoot();

function bundleOf(annotation: string): CosignBundle {
  const bundle = parseCosignBundle(annotation);
  if (bundle === undefined) {
    throw new Error('expected a bundle');
  }
  return bundle;
}

describe('verify/rekor-set', () => {
  describe('containers-image rekor-set (cases.json): VerifyRekorSET(rekor.pub, set, cert, sig, payload)', () => {
    const dir = 'containers-image/rekor-set/';
    const rekorKey = parsePublicKey(readTestdata(`${dir}rekor.pub`));
    const set = readTestdata(`${dir}rekor-set`);
    const expectation: EntryExpectation = {
      content: 'message',
      signature: Buffer.from(readTestdata(`${dir}rekor-sig`).trim(), 'base64'),
      payload: readTestdataBytes(`${dir}rekor-payload`),
      signers: [new X509Certificate(readTestdata(`${dir}rekor-cert`)).raw],
    };

    it('verifies and gives integrated time 1670870899', () => {
      const result = verifySet(bundleOf(set), tlogRoot([rekorKey]).material.tlogs, now);
      expect(result.ok && result.integratedTime.getTime()).to.equal(1670870899 * 1000);
    });

    it('has a body naming this signature, payload hash and certificate', () => {
      expect(checkEntryBody(bundleOf(set).body, expectation).ok).to.equal(true);
    });

    it('a key signature: an entry naming a certificate for that key names the signer (cosign sign --sk)', () => {
      const certKey = new X509Certificate(readTestdata(`${dir}rekor-cert`)).publicKey;
      const keyDer = certKey.export({ type: 'spki', format: 'der' });
      const body = bundleOf(set).body;
      expect(checkEntryBody(body, { ...expectation, signers: [keyDer], signerKey: keyDer }).ok).to.equal(
        true,
      );
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
      const otherDer = other.export({ type: 'spki', format: 'der' });
      expect(checkEntryBody(body, { ...expectation, signers: [otherDer], signerKey: otherDer }).ok).to.equal(
        false,
      );
    });

    it('check "verify with a different (random) ECDSA key" fails', () => {
      const random = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
      expect(verifySet(bundleOf(set), tlogRoot([random]).material.tlogs, now).ok).to.equal(false);
    });

    it('check "empty SET / \\"invalid signature\\"" fails: neither parses', () => {
      const json = JSON.parse(set) as { SignedEntryTimestamp: string };
      expect(parseCosignBundle(JSON.stringify({ ...json, SignedEntryTimestamp: '' }))).to.equal(undefined);
      expect(
        parseCosignBundle(JSON.stringify({ ...json, SignedEntryTimestamp: 'invalid signature' })),
      ).to.equal(undefined);
      expect(parseCosignBundle('')).to.equal(undefined);
    });

    it('a well-formed SET of another entry does not verify', () => {
      const annotations = JSON.parse(
        readTestdata('containers-image/dir-img-cosign-key-rekor-valid/signature-1.annotations.json'),
      ) as Record<string, string>;
      const other = bundleOf(annotations['dev.sigstore.cosign/bundle'] ?? '');
      const swapped = { ...bundleOf(set), signedEntryTimestamp: other.signedEntryTimestamp };
      expect(verifySet(swapped, tlogRoot([rekorKey]).material.tlogs, now).ok).to.equal(false);
    });

    it('any change to a signed field breaks it (logIndex + 1)', () => {
      const bundle = bundleOf(set);
      expect(
        verifySet({ ...bundle, logIndex: bundle.logIndex + 1 }, tlogRoot([rekorKey]).material.tlogs, now).ok,
      ).to.equal(false);
    });

    it('fails when the log key is not yet valid at the integrated time', () => {
      const root = tlogRoot([rekorKey], '2023-01-01T00:00:00Z');
      expect(verifySet(bundleOf(set), root.material.tlogs, now).ok).to.equal(false);
    });

    it('fails when the integrated time is after now', () => {
      expect(
        verifySet(bundleOf(set), tlogRoot([rekorKey]).material.tlogs, new Date('2022-01-01T00:00:00Z')).ok,
      ).to.equal(false);
    });

    it('verifies with the public-good trusted root too', () => {
      expect(verifySet(bundleOf(set), production.material.tlogs, now).ok).to.equal(true);
    });

    const mismatches: [string, Partial<EntryExpectation>][] = [
      ['another payload', { payload: Buffer.from('{}') }],
      ['another signature', { signature: Buffer.from('MEUCIQ', 'base64') }],
      ['another signer', { signers: [Buffer.from('not the certificate')] }],
      ['DSSE content (a hashedrekord entry logs a message signature)', { content: 'dsse' }],
    ];
    for (const [name, change] of mismatches) {
      it(`body check fails for ${name}`, () => {
        expect(checkEntryBody(bundleOf(set).body, { ...expectation, ...change }).ok).to.equal(false);
      });
    }
  });

  describe('DSSE entry kinds, from Sigstore conformance bundles re-packaged as cosign annotations', () => {
    const kinds: [string, string, () => LoadedTrustRoot][] = [
      ['dsse 0.0.1', 'sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/', () => production],
      [
        'intoto 0.0.2',
        'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/',
        () =>
          loadTrustedRoot(
            JSON.parse(
              readTestdata(
                'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/trusted_root.json',
              ),
            ),
          ),
      ],
    ];
    for (const [kind, dir, trustRoot] of kinds) {
      const bundle = JSON.parse(readTestdata(`${dir}bundle.sigstore.json`)) as BundleWithTlogEntries & {
        verificationMaterial: {
          certificate?: { rawBytes: string };
          x509CertificateChain?: { certificates: { rawBytes: string }[] };
        };
        dsseEnvelope: { payload: string; signatures: { sig: string }[] };
      };
      const root = trustRoot();
      const leaf =
        bundle.verificationMaterial.certificate?.rawBytes ??
        bundle.verificationMaterial.x509CertificateChain?.certificates[0]?.rawBytes ??
        '';
      const expectation: EntryExpectation = {
        content: 'dsse',
        signature: Buffer.from(bundle.dsseEnvelope.signatures[0]?.sig ?? '', 'base64'),
        payload: Buffer.from(bundle.dsseEnvelope.payload, 'base64'),
        signers: [Buffer.from(leaf, 'base64')],
      };
      const annotation = cosignBundleAnnotation(bundle);

      it(`${kind}: the SET verifies`, () => {
        expect(verifySet(bundleOf(annotation), root.material.tlogs, now).ok).to.equal(true);
      });

      it(`${kind}: the body names the envelope signature, payload and certificate`, () => {
        expect(checkEntryBody(bundleOf(annotation).body, expectation).ok).to.equal(true);
      });

      it(`${kind}: the body does not name a message signature or another payload`, () => {
        expect(checkEntryBody(bundleOf(annotation).body, { ...expectation, content: 'message' }).ok).to.equal(
          false,
        );
        expect(
          checkEntryBody(bundleOf(annotation).body, { ...expectation, payload: Buffer.from('x') }).ok,
        ).to.equal(false);
      });
    }
  });

  describe('parseCosignBundle refuses', () => {
    const payload = { body: 'e30=', integratedTime: 1, logIndex: 1, logID: 'c0'.repeat(32) };
    const bad: [string, unknown][] = [
      ['a negative logIndex', { SignedEntryTimestamp: 'MEUC', Payload: { ...payload, logIndex: -1 } }],
      [
        'a fractional integratedTime',
        { SignedEntryTimestamp: 'MEUC', Payload: { ...payload, integratedTime: 1.5 } },
      ],
      [
        'a string integratedTime',
        { SignedEntryTimestamp: 'MEUC', Payload: { ...payload, integratedTime: '1' } },
      ],
      ['a short logID', { SignedEntryTimestamp: 'MEUC', Payload: { ...payload, logID: 'c0d2' } }],
      ['no Payload', { SignedEntryTimestamp: 'MEUC' }],
    ];
    for (const [name, value] of bad) {
      it(name, () => {
        expect(parseCosignBundle(JSON.stringify(value))).to.equal(undefined);
      });
    }

    it('nothing when well-formed (control)', () => {
      expect(
        parseCosignBundle(JSON.stringify({ SignedEntryTimestamp: 'MEUC', Payload: payload }))?.logIndex,
      ).to.equal(1);
    });
  });

  describe('checkEntryBody refuses', () => {
    const expectation: EntryExpectation = {
      content: 'message',
      signature: Buffer.from('s'),
      payload: Buffer.from('p'),
      signers: [],
    };
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');
    const bad: [string, string][] = [
      ['a body that is not base64', '!!'],
      ['a body that is not JSON', Buffer.from('{').toString('base64')],
      ['an entry without kind', encode({ apiVersion: '0.0.1', spec: {} })],
      ['intoto 0.0.1 (it records no signature)', encode({ apiVersion: '0.0.1', kind: 'intoto', spec: {} })],
      ['an unknown kind', encode({ apiVersion: '0.0.1', kind: 'rekord', spec: {} })],
    ];
    for (const [name, body] of bad) {
      it(name, () => {
        expect(checkEntryBody(body, expectation).ok).to.equal(false);
        expect(checkEntryBody(body, { ...expectation, content: 'dsse' }).ok).to.equal(false);
      });
    }
  });
});
