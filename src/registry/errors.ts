import type { Digest } from '../base/digest.js';
import { SigwatchError } from '../base/errors.js';
import type { UnknownReason } from '../base/reasons.js';

/**
 * Why a registry interaction failed. None of these is ever a verdict about
 * the image: each maps to an Unknown-class reason (design §3), so a registry
 * outage, a hostile response or a cap can never look like a missing signature.
 */
export type RegistryErrorCode =
  /** Connection refused/reset, DNS, timeouts, 5xx. */
  | 'Unavailable'
  /** 401 after a fresh token, 403 DENIED, or credentials refused by the token realm. */
  | 'Unauthorized'
  /** 429, or a Retry-After beyond what we wait. */
  | 'RateLimited'
  /**
   * A transport cap was exceeded (a body over its size cap, too many
   * redirects or pages): the answer did not arrive, so it decides nothing.
   * Counts over a completely served listing are not errors (see the
   * collector). A 200 body over its cap stays this error (Unknown): the cap
   * is checked on a declared Content-Length before any byte arrives, and a
   * listing page cut at the cap would hide the valid entries it lists.
   */
  | 'LimitExceeded'
  /** Content did not hash to the digest it was asked for (or claimed in Docker-Content-Digest). */
  | 'DigestMismatch'
  /** Malformed response: bad JSON, wrong media type, HTML where a manifest belongs, bad headers. */
  | 'ProtocolError'
  /** A redirect to a forbidden address (link-local, loopback, private) or scheme. */
  | 'RedirectRefused'
  /** Credentials would have gone somewhere they must not (plain-HTTP or foreign token realm). */
  | 'CredentialsWithheld'
  /** The image reference or digest given to the client is not valid. */
  | 'InvalidReference';

export class RegistryError extends SigwatchError<RegistryErrorCode> {
  /** HTTP status of the response that caused it, when there was one. */
  readonly status: number | undefined;
  /**
   * Set when the registry served the content completely and it hashes to the
   * digest asked for or claimed: the error is about what the content is (not
   * a manifest Sigwatch can use), not about whether it arrived.
   */
  readonly servedDigest: Digest | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    options?: ErrorOptions & { status?: number; servedDigest?: Digest },
  ) {
    super(code, message, options);
    this.status = options?.status;
    this.servedDigest = options?.servedDigest;
  }
}

/** The one place registry failures become verdict reasons. */
export function unknownReasonFor(code: RegistryErrorCode): UnknownReason {
  switch (code) {
    case 'Unavailable':
    case 'RedirectRefused':
      return 'RegistryUnavailable';
    case 'Unauthorized':
    case 'CredentialsWithheld':
      return 'RegistryUnauthorized';
    case 'RateLimited':
      return 'RateLimited';
    case 'LimitExceeded':
    case 'DigestMismatch':
    case 'ProtocolError':
      return 'EvidenceIncomplete';
    case 'InvalidReference':
      return 'DigestUnresolved';
  }
}
