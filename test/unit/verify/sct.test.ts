import { generateKeyPairSync } from 'node:crypto';
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import { parseCertificatesPem } from '../../../src/verify/fulcio.js';
import { exactIdentity } from '../../../src/verify/identity.js';
import { cosignAnnotations, verifyLegacySignature } from '../../../src/verify/legacy-signature.js';
import { countValidScts } from '../../../src/verify/sct.js';
import type { LoadedTrustRoot } from '../../../src/verify/trust.js';
import { readTestdata, readTestdataBytes } from '../../support/testdata.js';
import { productionTrustRoot, tlogJson } from '../../support/trust-roots.js';

// A production Fulcio leaf (2023) with one embedded SCT, from a real cosign legacy signature.
const dir = 'containers-image/dir-img-cosign-fulcio-rekor-valid/';
const annotations = JSON.parse(readTestdata(`${dir}signature-1.annotations.json`)) as Record<string, string>;
const certs = (name: string) => parseCertificatesPem(annotations[name] ?? '', 'many') ?? [];
const leaf = certs(cosignAnnotations.certificate)[0];
const [intermediate, root] = certs(cosignAnnotations.chain);
const production = productionTrustRoot();
const randomLog = (): LoadedTrustRoot => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return productionTrustRoot({
    ctlogs: [tlogJson(publicKey.export({ type: 'spki', format: 'pem' }).toString())],
  });
};

describe('verify/sct', () => {
  it('verifies the embedded SCT of a production Fulcio leaf under the production CT log', () => {
    if (leaf === undefined || intermediate === undefined) throw new Error('fixture missing');
    expect(countValidScts(leaf, intermediate, production.material.ctlogs)).to.equal(1);
  });

  it('finds no valid SCT under another CT log key, or with the wrong issuer', () => {
    if (leaf === undefined || intermediate === undefined || root === undefined)
      throw new Error('fixture missing');
    expect(countValidScts(leaf, intermediate, randomLog().material.ctlogs)).to.equal(0);
    expect(countValidScts(leaf, root, production.material.ctlogs)).to.equal(0);
  });

  it('finds none in a certificate without the SCT extension', () => {
    if (intermediate === undefined || root === undefined) throw new Error('fixture missing');
    expect(countValidScts(intermediate, root, production.material.ctlogs)).to.equal(0);
  });

  describe('legacy keyless signatures require an SCT when the trust root lists CT logs', () => {
    // The containers/image signature file: a "\0sigstore-json\n" prefix, then JSON with the base64 payload.
    const raw = readTestdataBytes(`${dir}signature-1`);
    const stored = JSON.parse(raw.subarray('\0sigstore-json\n'.length).toString()) as { payload: string };
    const layer = { payload: Buffer.from(stored.payload, 'base64'), annotations };
    const digest = `sha256:${createHash('sha256')
      .update(readTestdataBytes(`${dir}manifest.json`))
      .digest('hex')}` as Digest;
    const authority = (trust: LoadedTrustRoot) =>
      ({
        kind: 'keyless',
        name: 'mitr',
        identity: exactIdentity('mitr@redhat.com'),
        issuer: exactIdentity('https://github.com/login/oauth'),
        trust,
        requireTransparencyLog: true,
      }) as const;
    const now = new Date('2026-06-01T00:00:00Z');

    it('accepts the production signature under the production root', () => {
      expect(verifyLegacySignature(layer, digest, authority(production), now).ok).to.equal(true);
    });

    it('rejects it when no trusted CT log signed its SCT: CertificateUntrusted', () => {
      const r = verifyLegacySignature(layer, digest, authority(randomLog()), now);
      expect(r.ok ? 'verified' : r.reason).to.equal('CertificateUntrusted');
    });
  });
});
