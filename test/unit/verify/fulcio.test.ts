import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { X509Certificate } from '@sigstore/core';
import type { TrustMaterial } from '@sigstore/verify';
import { expect } from 'chai';
import {
  parseCertificatesPem,
  readCertificateIdentity,
  verifyCertificateChain,
} from '../../../src/verify/fulcio.js';
import { loadTrustedRoot } from '../../../src/verify/trust.js';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];

const testdata = new URL('../../../../shared/testdata/', import.meta.url);
const readText = (path: string): string => readFileSync(new URL(path, testdata), 'utf8');

// --- A minimal DER writer, enough to mint test certificates with exactly the extensions a case needs.
const derLength = (n: number): Buffer =>
  n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
const seq = (...parts: Buffer[]): Buffer => der(0x30, ...parts);
const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
};
const int = (n: number): Buffer => der(0x02, Buffer.from([n]));
const utf8 = (s: string): Buffer => der(0x0c, Buffer.from(s, 'utf8'));
const utcTime = (d: Date): Buffer =>
  der(
    0x17,
    Buffer.from(
      d
        .toISOString()
        .replace(/[-:T]|\.\d+/g, '')
        .slice(2),
    ),
  );
const name = (cn: string): Buffer => seq(der(0x31, seq(oid('2.5.4.3'), utf8(cn))));
const TRUE = der(0x01, Buffer.from([0xff]));
const ext = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [TRUE] : []), der(0x04, value));

const ext$ = {
  ca: (pathLen?: number) =>
    ext('2.5.29.19', true, seq(TRUE, ...(pathLen === undefined ? [] : [int(pathLen)]))),
  caKeyUsage: () => ext('2.5.29.15', true, der(0x03, Buffer.from([1, 0x06]))), // keyCertSign, cRLSign
  leafKeyUsage: () => ext('2.5.29.15', true, der(0x03, Buffer.from([7, 0x80]))), // digitalSignature
  certSignOnly: () => ext('2.5.29.15', true, der(0x03, Buffer.from([2, 0x04]))), // keyCertSign
  eku: (...oids: string[]) => ext('2.5.29.37', false, seq(...oids.map(oid))),
  email: (v: string) => ext('2.5.29.17', true, seq(der(0x81, Buffer.from(v)))),
  uri: (v: string) => ext('2.5.29.17', true, seq(der(0x86, Buffer.from(v)))),
  sans: (...parts: Buffer[]) => ext('2.5.29.17', true, seq(...parts)),
  issuerV1: (v: string) => ext('1.3.6.1.4.1.57264.1.1', false, Buffer.from(v)),
  issuerV2: (v: string) => ext('1.3.6.1.4.1.57264.1.8', false, utf8(v)),
  unknownCritical: () => ext('1.2.3.4', true, der(0x05)),
};
const codeSigning = '1.3.6.1.5.5.7.3.3';

interface Minted {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly cn: string;
}

let serial = 1;
function mint(
  cn: string,
  extensions: Buffer[],
  issuer?: Minted,
  validity: [string, string] = ['2024-01-01T00:00:00Z', '2030-01-01T00:00:00Z'],
): Minted {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    der(0xa0, int(2)),
    int(serial++),
    alg,
    name(issuer?.cn ?? cn),
    seq(utcTime(new Date(validity[0])), utcTime(new Date(validity[1]))),
    name(cn),
    pair.publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer?.key ?? pair.privateKey);
  const raw = seq(tbs, alg, der(0x03, Buffer.from([0]), signature));
  return { cert: X509Certificate.parse(Buffer.from(raw)), key: pair.privateKey, cn };
}

const ca = (
  chain: readonly X509Certificate[],
  start = '2020-01-01T00:00:00Z',
  end?: string,
): CertAuthority => ({
  certChain: [...chain],
  validFor: { start: new Date(start), end: new Date(end ?? '9999-01-01T00:00:00Z') },
});

const inside = new Date('2025-06-01T00:00:00Z');

describe('verify/fulcio', () => {
  describe('readCertificateIdentity', () => {
    it('reads the email SAN and falls back to the v1 issuer (containers-image Fulcio leaf)', () => {
      const leaf = parseCertificatesPem(readText('containers-image/rekor-set/rekor-cert'), 'one')?.[0];
      expect(leaf && readCertificateIdentity(leaf)).to.deep.equal({
        sans: ['mitr@redhat.com'],
        issuer: 'https://github.com/login/oauth',
      });
    });

    it('reads the URI SAN and the v2 issuer (conformance GitHub Actions leaf)', () => {
      const bundle = JSON.parse(
        readText('sigstore-conformance/bundle-verify/happy-path-intoto-in-dsse-v3/bundle.sigstore.json'),
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
    const chain = readText('sigstore-conformance/trust/trusted_root.production.json');
    it('reads the two certificates of a cosign chain annotation', () => {
      const annotations = JSON.parse(
        readText('containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1.annotations.json'),
      ) as Record<string, string>;
      expect(parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'many')).to.have.length(2);
      expect(parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'one')).to.equal(undefined);
    });

    it('refuses non-certificate blocks and non-PEM text', () => {
      expect(parseCertificatesPem(readText('containers-image/rekor-set/rekor.pub'), 'many')).to.equal(
        undefined,
      );
      expect(parseCertificatesPem(chain, 'many')).to.equal(undefined);
    });
  });

  describe('verifyCertificateChain with the real public-good hierarchy', () => {
    const annotations = JSON.parse(
      readText('containers-image/dir-img-cosign-fulcio-rekor-valid/signature-1.annotations.json'),
    ) as Record<string, string>;
    const leaf = parseCertificatesPem(annotations['dev.sigstore.cosign/certificate'] ?? '', 'one')?.[0];
    const supplied = parseCertificatesPem(annotations['dev.sigstore.cosign/chain'] ?? '', 'many') ?? [];
    const production = loadTrustedRoot(
      JSON.parse(readText('sigstore-conformance/trust/trusted_root.production.json')),
    );
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
