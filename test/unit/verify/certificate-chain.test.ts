import type { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { expect } from 'chai';
import { verifyCertificateChain } from '../../../src/verify/certificate-chain.js';
import { parseCertificatesPem } from '../../../src/verify/fulcio.js';
import { readTestdata } from '../../support/testdata.js';
import { productionTrustRoot } from '../../support/trust-roots.js';
import { codeSigning, ext$, mint, type Minted } from '../../support/x509-builder.js';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

const ca = (
  chain: readonly X509Certificate[],
  start = '2020-01-01T00:00:00Z',
  end?: string,
): CertAuthority => ({
  certChain: [...chain],
  validFor: { start: new Date(start), end: new Date(end ?? '9999-01-01T00:00:00Z') },
});

const inside = new Date('2025-06-01T00:00:00Z');

describe('verify/certificate-chain', () => {
  describe('verifyCertificateChain with the real public-good hierarchy', () => {
    const annotations = JSON.parse(
      readTestdata('containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1.annotations.json'),
    ) as Record<string, string>;
    const leaf = parseCertificatesPem(annotations['dev.sigstore.cosign/certificate'] ?? '', 'one')?.[0];
    const supplied = parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'many') ?? [];
    const production = productionTrustRoot();
    const signedAt = new Date(1674247893 * 1000);
    if (leaf === undefined) {
      throw new Error('fixture leaf does not parse');
    }
    const [intermediate, root] = supplied;
    if (intermediate === undefined || root === undefined) {
      throw new Error('fixture chain does not parse');
    }

    it('builds leaf → intermediate → root at the integrated time', () => {
      const result = verifyCertificateChain(
        leaf,
        supplied,
        production.material.certificateAuthorities,
        signedAt,
      );
      expect(result.ok && result.path.length).to.equal(3);
    });

    it('needs no supplied chain when the trust root holds the intermediate', () => {
      expect(
        verifyCertificateChain(leaf, [], production.material.certificateAuthorities, signedAt).ok,
      ).to.equal(true);
    });

    it('is CertificateExpired at a time after the 10-minute leaf', () => {
      const result = verifyCertificateChain(
        leaf,
        supplied,
        production.material.certificateAuthorities,
        inside,
      );
      expect(!result.ok && result.reason).to.equal('CertificateExpired');
    });

    it('is CertificateUntrusted when only the root is trusted and the chain is not supplied', () => {
      const result = verifyCertificateChain(leaf, [], [ca([root])], signedAt);
      expect(!result.ok && result.reason).to.equal('CertificateUntrusted');
    });

    it('is CertificateUntrusted when the trusted CA had ended before the signing time', () => {
      const result = verifyCertificateChain(
        leaf,
        supplied,
        [ca([root], '2021-01-01T00:00:00Z', '2022-12-31T00:00:00Z')],
        signedAt,
      );
      expect(!result.ok && result.reason).to.equal('CertificateUntrusted');
    });

    it('is CertificateUntrusted against an unrelated CA even with the chain supplied', () => {
      const other = mint('other root', [ext$.ca(), ext$.caKeyUsage()]);
      const result = verifyCertificateChain(leaf, supplied, [ca([other.cert])], signedAt);
      expect(!result.ok && result.reason).to.equal('CertificateUntrusted');
    });
  });

  describe('verifyCertificateChain with minted hierarchies', () => {
    const root = mint('root', [ext$.ca(1), ext$.caKeyUsage()]);
    const intermediate = mint('intermediate', [ext$.ca(0), ext$.caKeyUsage(), ext$.eku(codeSigning)], root);
    const goodLeaf = (...extra: Buffer[]): Minted =>
      mint(
        '',
        [ext$.leafKeyUsage(), ext$.eku(codeSigning), ext$.email('a@example.com'), ...extra],
        intermediate,
      );
    const trusted = [ca([root.cert])];

    it('accepts a Fulcio-profile leaf (control)', () => {
      expect(verifyCertificateChain(goodLeaf().cert, [intermediate.cert], trusted, inside).ok).to.equal(true);
    });

    it('accepts a long-lived private-PKI leaf judged at "now" (no trusted signing time)', () => {
      expect(
        verifyCertificateChain(
          goodLeaf().cert,
          [intermediate.cert],
          trusted,
          new Date('2029-12-31T00:00:00Z'),
        ).ok,
      ).to.equal(true);
    });

    const untrusted: [string, () => { leaf: Minted; chain: Minted[]; anchors?: Minted[] }][] = [
      [
        'a leaf without the codeSigning EKU',
        () => ({
          leaf: mint('', [ext$.leafKeyUsage(), ext$.eku('1.3.6.1.5.5.7.3.1')], intermediate),
          chain: [intermediate],
        }),
      ],
      [
        'a leaf without any EKU',
        () => ({ leaf: mint('', [ext$.leafKeyUsage()], intermediate), chain: [intermediate] }),
      ],
      [
        'a leaf whose key usage lacks digitalSignature',
        () => ({
          leaf: mint('', [ext$.certSignOnly(), ext$.eku(codeSigning)], intermediate),
          chain: [intermediate],
        }),
      ],
      [
        'a leaf that is a CA',
        () => ({
          leaf: mint('', [ext$.ca(), ext$.leafKeyUsage(), ext$.eku(codeSigning)], intermediate),
          chain: [intermediate],
        }),
      ],
      [
        'a leaf with an unknown critical extension',
        () => ({ leaf: goodLeaf(ext$.unknownCritical()), chain: [intermediate] }),
      ],
      [
        'an intermediate that is not a CA',
        () => {
          const notCa = mint('not-ca', [ext$.caKeyUsage()], root);
          return { leaf: mint('', [ext$.leafKeyUsage(), ext$.eku(codeSigning)], notCa), chain: [notCa] };
        },
      ],
      [
        'an intermediate restricted to serverAuth',
        () => {
          const web = mint('web', [ext$.ca(0), ext$.caKeyUsage(), ext$.eku('1.3.6.1.5.5.7.3.1')], root);
          return { leaf: mint('', [ext$.leafKeyUsage(), ext$.eku(codeSigning)], web), chain: [web] };
        },
      ],
      [
        'a path longer than the root’s pathLenConstraint',
        () => {
          const strictRoot = mint('strict root', [ext$.ca(0), ext$.caKeyUsage()]);
          const mid = mint('mid', [ext$.ca(), ext$.caKeyUsage()], strictRoot);
          return {
            leaf: mint('', [ext$.leafKeyUsage(), ext$.eku(codeSigning)], mid),
            chain: [mid],
            anchors: [strictRoot],
          };
        },
      ],
      [
        'more than 10 supplied chain certificates',
        () => ({ leaf: goodLeaf(), chain: Array.from({ length: 11 }, () => intermediate) }),
      ],
      [
        'a chain ending in a self-signed root that is not trusted',
        () => {
          const rogue = mint('root', [ext$.ca(1), ext$.caKeyUsage()]);
          const rogueMid = mint('intermediate', [ext$.ca(0), ext$.caKeyUsage()], rogue);
          return {
            leaf: mint('', [ext$.leafKeyUsage(), ext$.eku(codeSigning)], rogueMid),
            chain: [rogueMid, rogue],
          };
        },
      ],
    ];
    for (const [title, build] of untrusted) {
      it(`is CertificateUntrusted for ${title}`, () => {
        const { leaf, chain, anchors } = build();
        const authorities = anchors === undefined ? trusted : [ca(anchors.map((a) => a.cert))];
        const result = verifyCertificateChain(
          leaf.cert,
          chain.map((c) => c.cert),
          authorities,
          inside,
        );
        expect(!result.ok && result.reason).to.equal('CertificateUntrusted');
      });
    }

    it('is CertificateExpired when the signing time is before the leaf’s notBefore', () => {
      const result = verifyCertificateChain(
        goodLeaf().cert,
        [intermediate.cert],
        trusted,
        new Date('2023-06-01T00:00:00Z'),
      );
      expect(!result.ok && result.reason).to.equal('CertificateExpired');
    });

    it('is CertificateExpired when an intermediate has expired though the leaf has not', () => {
      const shortMid = mint('short', [ext$.ca(0), ext$.caKeyUsage()], root, [
        '2024-01-01T00:00:00Z',
        '2025-01-01T00:00:00Z',
      ]);
      const leaf = mint('', [ext$.leafKeyUsage(), ext$.eku(codeSigning)], shortMid);
      const result = verifyCertificateChain(leaf.cert, [shortMid.cert], trusted, inside);
      expect(!result.ok && result.reason).to.equal('CertificateExpired');
    });

    it('trusts a CA whose trust-root chain is only the intermediate', () => {
      expect(verifyCertificateChain(goodLeaf().cert, [], [ca([intermediate.cert])], inside).ok).to.equal(
        true,
      );
    });
  });
});
