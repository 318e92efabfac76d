/**
 * Keyless bundles from a private CA that use neither a transparency log nor a
 * timestamp authority — allowed only when the authority says
 * `requireTransparencyLog: false` and its trust root lists no CT logs.
 *
 * @sigstore/verify checks the certificate chain once per verified signing
 * time; with no time evidence it checks no chain at all, so such a bundle
 * must not reach it. Here the chain is judged at `now`, exactly as
 * legacy-signature.ts does for the same case: a long-lived private-PKI leaf
 * passes while valid, a 10-minute Fulcio-style leaf is `CertificateExpired`.
 */
import type { SignedEntity, Signer } from '@sigstore/verify';
import type { Authority, KeylessAuthority } from './authority.js';
import { reject, type BundleRejection } from './bundle-failure.js';
import { verifyCertificateChain } from './certificate-chain.js';
import { certificateKey, readCertificateIdentity } from './fulcio.js';

/** True when this bundle and authority take the no-log, no-TSA, private-CA path. */
export function isUnloggedPrivateKeyless(
  entity: SignedEntity,
  authority: Authority,
): authority is KeylessAuthority {
  return (
    authority.kind === 'keyless' &&
    !authority.requireTransparencyLog &&
    entity.timestamps.length === 0 &&
    authority.trust.root.ctlogs.length === 0
  );
}

/** Chain to a trusted CA at `now`; the signature itself was checked before. */
export function verifyChainAtNow(
  entity: SignedEntity,
  authority: KeylessAuthority,
  now: Date,
): { readonly ok: true; readonly signer: Signer } | BundleRejection {
  if (entity.key.$case !== 'certificate') {
    return reject('CertificateUntrusted', 'the bundle is signed by a bare key, not a certificate');
  }
  const leaf = entity.key.certificate;
  const chain = verifyCertificateChain(leaf, [], authority.trust.material.certificateAuthorities, now);
  if (!chain.ok)
    return reject(
      chain.reason,
      `${chain.message} (no verified signing time: judged at ${now.toISOString()})`,
    );
  const { sans, issuer } = readCertificateIdentity(leaf);
  const san = sans.length === 1 ? sans[0] : undefined;
  return {
    ok: true,
    signer: {
      key: certificateKey(leaf),
      identity: {
        ...(san === undefined ? {} : { subjectAlternativeName: san }),
        extensions: issuer === undefined ? {} : { issuer },
      },
    },
  };
}
