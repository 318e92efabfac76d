/**
 * A parsed bundle turned into what @sigstore/verify's `Verifier` checks (a
 * `SignedEntity`) and the trust material it checks it against, adapted to
 * Sigwatch's authorities. Pure: no I/O, no clock.
 *
 * Two substitutions, both so the library's own checks run on the right input:
 * - Message signatures are checked over the bundle's `messageDigest` (see
 *   bundle-prehash.ts): `toSignedEntity` without the artifact bytes would try
 *   to verify the signature over `undefined` and fail every digest-only
 *   verification. The digest is later required to equal the artifact's
 *   (bundle-artifact.ts), so the signature is in effect checked against the
 *   caller's digest, never only against the bundle's claim.
 * - Under a key authority the bundle's verification material is ignored and
 *   the signer is the authority's key (as `cosign verify --key` does): a
 *   `publicKey.hint` is unauthenticated, and a certificate's key is not ours.
 */
import type { KeyObject } from 'node:crypto';
import type { Bundle, MessageSignature } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { toSignedEntity, type KeyFinderFunc, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import type { Authority } from './authority.js';
import { verifyPrehashed, type PrehashAlgorithm, type PrehashVerification } from './bundle-prehash.js';
import { VerifyError } from './errors.js';

type SignatureContent = SignedEntity['signature'];

/** How many of each kind of evidence the library must verify (its `VerifierOptions`). */
export interface BundleThresholds {
  /** Transparency-log entries (SET or inclusion proof + checkpoint). */
  readonly tlogEntries: number;
  /** Embedded SCTs of the leaf certificate (keyless only). */
  readonly ctlogSCTs: number;
  /** Verified signing times: SET-backed integrated times plus RFC 3161 timestamps. */
  readonly timestamps: number;
}

/**
 * What an authority requires: keyless needs a verified signing time (the
 * 10-minute Fulcio leaf is judged at that time) and, when its trust root
 * lists certificate-transparency logs, an SCT from one of them — a private
 * CA's root lists none, and requiring an SCT there could never succeed. The
 * log is required when the authority says so. A key needs neither.
 */
export function thresholdsFor(authority: Authority): BundleThresholds {
  const keyless = authority.kind === 'keyless';
  return {
    tlogEntries: authority.requireTransparencyLog ? 1 : 0,
    ctlogSCTs: keyless && authority.trust.root.ctlogs.length > 0 ? 1 : 0,
    timestamps: keyless ? 1 : 0,
  };
}

const prehashAlgorithms: ReadonlyMap<HashAlgorithm, PrehashAlgorithm> = new Map([
  [HashAlgorithm.SHA2_256, 'sha256'],
  [HashAlgorithm.SHA2_384, 'sha384'],
  [HashAlgorithm.SHA2_512, 'sha512'],
]);

/** The Node digest name of a message signature's digest, or undefined for SHA-3/unspecified. */
export function messageDigestAlgorithm(signature: MessageSignature): PrehashAlgorithm | undefined {
  return prehashAlgorithms.get(signature.messageDigest.algorithm);
}

/**
 * @sigstore/verify's `MessageSignatureContent`, except that the signature is
 * verified over the message digest instead of the artifact bytes. The tlog
 * comparisons are the library's: same signature bytes, same digest.
 */
class DigestMessageContent implements SignatureContent {
  readonly signature: Buffer;
  private readonly digest: Buffer;
  private readonly algorithm: PrehashAlgorithm | undefined;

  constructor(messageSignature: MessageSignature) {
    this.signature = messageSignature.signature;
    this.digest = messageSignature.messageDigest.digest;
    this.algorithm = messageDigestAlgorithm(messageSignature);
  }

  compareSignature(signature: Buffer): boolean {
    return signature.equals(this.signature);
  }

  compareDigest(digest: Buffer): boolean {
    return digest.equals(this.digest);
  }

  compareSignedDigest(digest: Buffer): boolean {
    return this.compareDigest(digest);
  }

  verifySignature(key: KeyObject): boolean {
    return this.check(key) === 'valid';
  }

  check(key: KeyObject): PrehashVerification {
    return this.algorithm === undefined
      ? 'unsupported'
      : verifyPrehashed(key, this.algorithm, this.digest, this.signature);
  }
}

/** The hint under which a key authority's key is offered to the library (any hint finds it). */
const authorityKeyHint = 'sigwatch-authority-key';

/**
 * Builds the entity the library verifies.
 * @throws VerifyError `BundleInvalid` when a certificate or RFC 3161
 *   timestamp in the bundle does not parse (the library parses them here).
 */
export function toEntity(bundle: Bundle, authority: Authority): SignedEntity {
  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle);
  } catch (error: unknown) {
    throw new VerifyError('BundleInvalid', 'a certificate or timestamp in the bundle does not parse', {
      cause: error,
    });
  }
  const signature =
    bundle.content.$case === 'messageSignature'
      ? new DigestMessageContent(bundle.content.messageSignature)
      : entity.signature;
  const key: SignedEntity['key'] =
    authority.kind === 'key' ? { $case: 'public-key', hint: authorityKeyHint } : entity.key;
  return { ...entity, signature, key };
}

/**
 * Checks only the signature, with `key`: the first step of verification, so a
 * bad signature is reported as such even when the log entry or time that
 * cover it are also wrong. `unsupported`: a key type that cannot verify a
 * message signature from its digest (Ed25519, RSA-PSS) or a SHA-3 digest.
 */
export function checkSignature(entity: SignedEntity, key: KeyObject): PrehashVerification {
  const { signature } = entity;
  if (signature instanceof DigestMessageContent) return signature.check(key);
  return signature.verifySignature(key) ? 'valid' : 'invalid';
}

/** The entity with no transparency-log entries nor the integrated times they carry. */
export function withoutTransparencyLog(entity: SignedEntity): SignedEntity {
  return {
    ...entity,
    tlogEntries: [],
    timestamps: entity.timestamps.filter((t) => t.$case !== 'transparency-log'),
  };
}

/** The entity with no log entries and no RFC 3161 timestamps: nothing that needs trust material. */
export function withoutTimeEvidence(entity: SignedEntity): SignedEntity {
  return { ...entity, tlogEntries: [], timestamps: [] };
}

const emptyMaterial: Omit<TrustMaterial, 'publicKey'> = {
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
};

/**
 * Trust material for the library. For a key authority the key finder always
 * answers with the authority's key, valid at every time (a KeyAuthority has
 * no validity period); its trust root, if any, only vouches for logs and
 * TSAs. A keyless authority's key finder finds nothing: bare keys are not
 * trusted there.
 */
export function trustMaterialFor(authority: Authority): TrustMaterial {
  if (authority.kind === 'keyless') {
    return authority.trust.material;
  }
  const { publicKey } = authority;
  const keyFinder: KeyFinderFunc = () => ({ publicKey, validFor: () => true });
  return { ...(authority.trust?.material ?? emptyMaterial), publicKey: keyFinder };
}
