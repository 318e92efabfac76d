import { X509Certificate } from '@sigstore/core';
import { expect } from 'chai';
import {
  maxGithubWorkflowClaimBytes,
  parseCertificatesPem,
  readCertificateIdentity,
  readGithubWorkflowClaims,
} from '../../../src/verify/fulcio.js';
import { readBundleLeaf, readTestdata } from '../../support/testdata.js';
import { der, ext$, mint, oid, seq, utf8 } from '../../support/x509-builder.js';

const gh = (n: number): string => `1.3.6.1.4.1.57264.1.${String(n)}`;

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

  describe('readGithubWorkflowClaims (cosign --certificate-github-workflow-*)', () => {
    it('reads the five raw claims of a real GitHub Actions leaf (conformance happy-path-v0.1)', () => {
      const leaf = readBundleLeaf('sigstore-conformance/bundle-verify/happy-path-v0.1/bundle.sigstore.json');
      expect(readGithubWorkflowClaims(leaf)).to.deep.equal({
        trigger: 'workflow_dispatch',
        sha: 'af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4',
        name: 'Extremely dangerous OIDC beacon',
        repository: 'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
        ref: 'refs/heads/main',
      });
    });

    const without: [string, string][] = [
      [
        'a private-CA leaf with a GitHub SAN',
        'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root',
      ],
      ['an email leaf from sigstore-js', 'sigstore-js/verify/v1-message-signature-cert'],
      ['an email leaf from cosign', 'cosign/oci-attestation-bundle/oci-attestation.sigstore.json'],
    ];
    for (const [what, path] of without) {
      it(`finds none on ${what}`, () => {
        const file = path.endsWith('.json') ? path : `${path}/bundle.sigstore.json`;
        expect(readGithubWorkflowClaims(readBundleLeaf(file))).to.deep.equal({});
      });
    }

    it('reads none on a real email leaf of a legacy signature (containers-image)', () => {
      const leaf = parseCertificatesPem(readTestdata('containers-image/rekor-set/rekor-cert'), 'one')?.[0];
      expect(leaf && readGithubWorkflowClaims(leaf)).to.deep.equal({});
    });

    it('never falls back to the generic extensions (…1.12 source repository, …1.20 build trigger)', () => {
      const leaf = mint('x', [
        ext$.raw(gh(12), utf8('https://github.com/o/r')),
        ext$.raw(gh(20), utf8('push')),
      ]);
      expect(readGithubWorkflowClaims(leaf.cert)).to.deep.equal({});
    });

    it('keeps the value as raw bytes: a DER-wrapped one keeps its tag and length', () => {
      const leaf = mint('x', [ext$.raw(gh(2), utf8('push'))]);
      expect(readGithubWorkflowClaims(leaf.cert)).to.deep.equal({ trigger: '\x0c\x04push' });
    });

    it('keeps a leading byte-order mark and the empty value', () => {
      const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('main')]);
      const leaf = mint('x', [ext$.raw(gh(6), bom), ext$.raw(gh(3), Buffer.alloc(0))]);
      expect(readGithubWorkflowClaims(leaf.cert)).to.deep.equal({ ref: '\ufeffmain', sha: '' });
    });

    const unusable: [string, Buffer[]][] = [
      ['appears twice', [ext$.raw(gh(5), Buffer.from('a/b')), ext$.raw(gh(5), Buffer.from('a/b'))]],
      ['is not UTF-8', [ext$.raw(gh(5), Buffer.from([0x61, 0xff, 0x62]))]],
      ['is too long', [ext$.raw(gh(5), Buffer.alloc(maxGithubWorkflowClaimBytes + 1, 0x61))]],
      ['is no OCTET STRING', [seq(oid(gh(5)), utf8('a/b'))]],
    ];
    for (const [what, extensions] of unusable) {
      it(`leaves out a claim whose extension ${what}, keeping the others`, () => {
        const leaf = mint('x', [...extensions, ext$.raw(gh(4), Buffer.from('release'))]);
        expect(readGithubWorkflowClaims(leaf.cert)).to.deep.equal({ name: 'release' });
      });
    }

    it('reads a value of exactly the limit', () => {
      const value = 'a'.repeat(maxGithubWorkflowClaimBytes);
      const leaf = mint('x', [ext$.raw(gh(5), Buffer.from(value))]);
      expect(readGithubWorkflowClaims(leaf.cert)).to.deep.equal({ repository: value });
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
