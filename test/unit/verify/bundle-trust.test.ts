/**
 * Trust roots as bundle verification uses them: the embedded public-good
 * root (src/verify/public-good.ts) and the fixture roots of the corpus.
 */
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import { verifyBundle } from '../../../src/verify/bundle.js';
import { VerifyError } from '../../../src/verify/errors.js';
import { exactIdentity } from '../../../src/verify/identity.js';
import { publicGoodTrustedRoot } from '../../../src/verify/public-good.js';
import { loadTrustedRoot } from '../../../src/verify/trust.js';
import { productionTrustedRoot, readJson, testdataRoot } from '../../support/testdata.js';

describe('verify/bundle trust roots', () => {
  it('the embedded public-good root is the production trusted root of the corpus snapshot', () => {
    const embedded = publicGoodTrustedRoot().root;
    const snapshot = TrustedRoot.fromJSON(readJson(productionTrustedRoot));
    expect(TrustedRoot.toJSON(embedded)).to.deep.equal(TrustedRoot.toJSON(snapshot));
  });

  it('a production bundle verifies against the embedded root', () => {
    const url = new URL(
      'sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json',
      testdataRoot,
    );
    const result = verifyBundle(
      readJson(url),
      {
        kind: 'digest',
        digest: 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf' as Digest,
      },
      {
        kind: 'keyless',
        name: 'public-good',
        identity: exactIdentity(
          'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
        ),
        issuer: exactIdentity('https://token.actions.githubusercontent.com'),
        trust: publicGoodTrustedRoot(),
        requireTransparencyLog: true,
      },
      new Date(),
    );
    expect(result).to.include({ ok: true, authority: 'public-good', format: 'bundle' });
  });

  it("trust.ts refuses sigstore-js's fixture roots as shipped (log keys without validFor.start)", () => {
    // Why bundle.test.ts makes their implicit "since the beginning of time" explicit.
    const url = new URL('sigstore-js/verify/v1-message-signature-cert/trusted_root.json', testdataRoot);
    expect(() => loadTrustedRoot(readJson(url)))
      .to.throw(VerifyError)
      .with.property('code', 'TrustRootInvalid');
  });
});
