import { SigwatchError } from '../base/errors.js';

/**
 * Codes of errors raised while loading verification inputs (trust material,
 * keys, identity patterns, bundles that cannot be parsed at all). A signature
 * that fails to verify is not an error: it is a result with a reason.
 */
export type VerifyErrorCode =
  'TrustRootInvalid' | 'PublicKeyInvalid' | 'IdentityPatternInvalid' | 'BundleInvalid' | 'ArtifactInvalid';

export class VerifyError extends SigwatchError<VerifyErrorCode> {}
