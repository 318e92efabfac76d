import { createHash, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parsePublicKey } from '../../../src/verify/keys.js';
import {
  checkEntryBody,
  parseCosignBundle,
  verifySet,
  verifyTimestamp,
  type CosignBundle,
  type EntryExpectation,
} from '../../../src/verify/rekor-set.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../../src/verify/trust.js';

const testdata = new URL('../../../../shared/testdata/', import.meta.url);
const readText = (path: string): string => readFileSync(new URL(path, testdata), 'utf8');
const now = new Date('2026-06-01T00:00:00Z');

/** A trusted root holding only transparency-log keys, valid from `start`. */
function tlogRoot(keys: readonly KeyObject[], start = '2021-01-01T00:00:00Z'): LoadedTrustRoot {
  return loadTrustedRoot({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: keys.map((key) => {
      const der = key.export({ type: 'spki', format: 'der' });
      return {
        baseUrl: 'https://rekor.example',
        hashAlgorithm: 'SHA2_256',
        publicKey: {
          rawBytes: der.toString('base64'),
          keyDetails: 'PKIX_ECDSA_P256_SHA_256',
          validFor: { start },
        },
        logId: { keyId: createHash('sha256').update(der).digest('base64') },
      };
    }),
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  });
}

const production = loadTrustedRoot(
  JSON.parse(readText('sigstore-conformance/trust/trusted_root.production.json')),
);

function bundleOf(annotation: string): CosignBundle {
  const bundle = parseCosignBundle(annotation);
  if (bundle === undefined) {
    throw new Error('expected a bundle');
  }
  return bundle;
}

/** The cosign bundle annotation equivalent of a Sigstore bundle's first tlog entry (same signed fields). */
function annotationFromSigstoreBundle(bundle: {
  verificationMaterial: {
    tlogEntries: {
      logIndex: string;
      logId: { keyId: string };
      integratedTime: string;
      inclusionPromise: { signedEntryTimestamp: string };
      canonicalizedBody: string;
    }[];
  };
}): string {
  const entry = bundle.verificationMaterial.tlogEntries[0];
  if (entry === undefined) {
    throw new Error('no tlog entry');
  }
  return JSON.stringify({
    SignedEntryTimestamp: entry.inclusionPromise.signedEntryTimestamp,
    Payload: {
      body: entry.canonicalizedBody,
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId, 'base64').toString('hex'),
    },
  });
}

describe('verify/rekor-set', () => {
  describe('containers-image rekor-set (cases.json): VerifyRekorSET(rekor.pub, set, cert, sig, payload)', () => {
    const dir = 'containers-image/rekor-set/';
    const rekorKey = parsePublicKey(readText(`${dir}rekor.pub`));
    const set = readText(`${dir}rekor-set`);
    const expectation: EntryExpectation = {
      content: 'message',
      signature: Buffer.from(readText(`${dir}rekor-sig`).trim(), 'base64'),
      payload: readFileSync(new URL(`${dir}rekor-payload`, testdata)),
      signers: [new X509Certificate(readText(`${dir}rekor-cert`)).raw],
    };

    it('verifies and gives integrated time 1670870899', () => {
      const result = verifySet(bundleOf(set), tlogRoot([rekorKey]).material.tlogs, now);
      expect(result.ok && result.integratedTime.getTime()).to.equal(1670870899 * 1000);
    });

    it('has a body naming this signature, payload hash and certificate', () => {
      expect(checkEntryBody(bundleOf(set).body, expectation).ok).to.equal(true);
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
        readText('containers-image/dir-img-cosign-key-rekor-valid/signature-1.annotations.json'),
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
              readText('sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/trusted_root.json'),
            ),
          ),
      ],
    ];
    for (const [kind, dir, trustRoot] of kinds) {
      const bundle = JSON.parse(readText(`${dir}bundle.sigstore.json`)) as Parameters<
        typeof annotationFromSigstoreBundle
      >[0] & {
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
      const annotation = annotationFromSigstoreBundle(bundle);

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

describe('verifyTimestamp (RFC 3161), on Sigstore conformance timestamps re-packaged as the cosign annotation', () => {
  interface TsaCase {
    readonly root: LoadedTrustRoot;
    readonly annotation: string;
    readonly signature: Buffer;
    readonly leaf: string;
  }
  const load = (id: string): TsaCase => {
    const dir = `sigstore-conformance/bundle-verify/${id}/`;
    const bundle = JSON.parse(readText(`${dir}bundle.sigstore.json`)) as {
      verificationMaterial: {
        certificate: { rawBytes: string };
        timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] };
      };
      messageSignature: { signature: string };
    };
    const material = bundle.verificationMaterial;
    return {
      root: loadTrustedRoot(JSON.parse(readText(`${dir}trusted_root.json`))),
      annotation: JSON.stringify({
        SignedRFC3161Timestamp: material.timestampVerificationData.rfc3161Timestamps[0]?.signedTimestamp,
      }),
      signature: Buffer.from(bundle.messageSignature.signature, 'base64'),
      leaf: material.certificate.rawBytes,
    };
  };
  const timeOf = (c: TsaCase, at = now): Date | undefined =>
    verifyTimestamp(c.annotation, c.signature, c.root.material.timestampAuthorities, at);

  for (const id of [
    'rekor2-happy-path',
    'rekor2-timestamp-with-embedded-cert',
    'rekor2-timestamp-without-embedded-cert',
  ]) {
    it(`${id}: verified; the time lies inside the signing certificate's validity`, () => {
      const c = load(id);
      const leaf = new X509Certificate(Buffer.from(c.leaf, 'base64'));
      const at = timeOf(c);
      expect(at !== undefined && at >= leaf.validFromDate && at <= leaf.validToDate).to.equal(true);
    });
  }

  for (const id of [
    'rekor2-timestamp-outside-trust-root-tsa-validity_fail',
    'rekor2-timestamp-outside-tsa-cert-validity_fail',
    'rekor2-timestamp-payload-mismatch_fail',
    'rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail',
  ]) {
    it(`${id}: no trusted time`, () => {
      expect(timeOf(load(id))).to.equal(undefined);
    });
  }

  it('rekor2-timestamp-with-incorrect-time_fail: a genuine time outside the leaf validity (the chain check rejects it)', () => {
    const c = load('rekor2-timestamp-with-incorrect-time_fail');
    const leaf = new X509Certificate(Buffer.from(c.leaf, 'base64'));
    const at = timeOf(c);
    expect(at !== undefined && (at < leaf.validFromDate || at > leaf.validToDate)).to.equal(true);
  });

  it('no trusted time over other bytes, before the token time, or from the wrong trust root', () => {
    const c = load('rekor2-happy-path');
    expect(
      verifyTimestamp(c.annotation, Buffer.from('other'), c.root.material.timestampAuthorities, now),
    ).to.equal(undefined);
    expect(timeOf(c, new Date('2020-01-01T00:00:00Z'))).to.equal(undefined);
    expect(
      verifyTimestamp(c.annotation, c.signature, production.material.timestampAuthorities, now),
    ).to.equal(undefined);
  });

  it('no trusted time from annotations that do not parse', () => {
    const c = load('rekor2-happy-path');
    for (const bad of ['', '{}', '{"SignedRFC3161Timestamp":"!!"}', '{"SignedRFC3161Timestamp":"MAA="}']) {
      expect(verifyTimestamp(bad, c.signature, c.root.material.timestampAuthorities, now), bad).to.equal(
        undefined,
      );
    }
  });
});
