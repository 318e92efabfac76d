import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { verifyTimestamp } from '../../../src/verify/rfc3161.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../../src/verify/trust.js';
import { readTestdata } from '../../support/testdata.js';
import { productionTrustRoot } from '../../support/trust-roots.js';

const now = new Date('2026-06-01T00:00:00Z');
const production = productionTrustRoot();

describe('verify/rfc3161', () => {
  describe('verifyTimestamp (RFC 3161), on Sigstore conformance timestamps re-packaged as the cosign annotation', () => {
    interface TsaCase {
      readonly root: LoadedTrustRoot;
      readonly annotation: string;
      readonly signature: Buffer;
      readonly leaf: string;
    }
    const load = (id: string): TsaCase => {
      const dir = `sigstore-conformance/bundle-verify/${id}/`;
      const bundle = JSON.parse(readTestdata(`${dir}bundle.sigstore.json`)) as {
        verificationMaterial: {
          certificate: { rawBytes: string };
          timestampVerificationData: { rfc3161Timestamps: { signedTimestamp: string }[] };
        };
        messageSignature: { signature: string };
      };
      const material = bundle.verificationMaterial;
      return {
        root: loadTrustedRoot(JSON.parse(readTestdata(`${dir}trusted_root.json`))),
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
});
