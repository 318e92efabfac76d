import { X509Certificate } from '@sigstore/core';
import { expect } from 'chai';
import { parseCertificatesPem, readCertificateIdentity } from '../../../src/verify/fulcio.js';
import { readTestdata } from '../../support/testdata.js';
import { der, ext$, mint, oid, utf8 } from '../../support/x509-builder.js';

describe('verify/fulcio', () => {
  describe('readCertificateIdentity', () => {
    it('reads the email SAN and falls back to the v1 issuer (containers-image Fulcio leaf)', () => {
      const leaf = parseCertificatesPem(readTestdata('containers-image/rekor-set/rekor-cert'), 'one')?.[0];
      expect(leaf && readCertificateIdentity(leaf)).to.deep.equal({
        sans: ['mitr@redhat.com'],
        issuer: 'https://github.com/login/oauth',
      });
    });

    it('reads the URI SAN and the v2 issuer (conformance GitHub Actions leaf)', () => {
      const bundle = JSON.parse(
        readTestdata('sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json'),
      ) as { verificationMaterial: { certificate: { rawBytes: string } } };
      const leaf = X509Certificate.parse(
        Buffer.from(bundle.verificationMaterial.certificate.rawBytes, 'base64'),
      );
      expect(readCertificateIdentity(leaf)).to.deep.equal({
        sans: [
          'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
        ],
        issuer: 'https://token.actions.githubusercontent.com',
      });
    });

    it('prefers the v2 issuer when both are present', () => {
      const leaf = mint('x', [ext$.issuerV1('https://v1.example'), ext$.issuerV2('https://v2.example')]);
      expect(readCertificateIdentity(leaf.cert).issuer).to.equal('https://v2.example');
    });

    it('returns every email, URI and Fulcio username SAN, and no issuer when there is none', () => {
      // OtherName is [0] IMPLICIT SEQUENCE { type-id, [0] EXPLICIT value }.
      const username = [oid('1.3.6.1.4.1.57264.1.7'), der(0xa0, utf8('octocat!example.com'))];
      const leaf = mint('x', [
        ext$.sans(
          der(0x81, Buffer.from('a@example.com')),
          der(0x86, Buffer.from('https://b.example')),
          der(0xa0, ...username),
        ),
      ]);
      expect(readCertificateIdentity(leaf.cert)).to.deep.equal({
        sans: ['a@example.com', 'https://b.example', 'octocat!example.com'],
      });
    });
  });

  describe('parseCertificatesPem', () => {
    const chain = readTestdata('sigstore-conformance/trust/trusted_root.production.json');
    it('reads the two certificates of a cosign chain annotation', () => {
      const annotations = JSON.parse(
        readTestdata('containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1.annotations.json'),
      ) as Record<string, string>;
      expect(parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'many')).to.have.length(2);
      expect(parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'one')).to.equal(undefined);
    });

    it('refuses non-certificate blocks and non-PEM text', () => {
      expect(parseCertificatesPem(readTestdata('containers-image/rekor-set/rekor.pub'), 'many')).to.equal(
        undefined,
      );
      expect(parseCertificatesPem(chain, 'many')).to.equal(undefined);
    });
  });
});
