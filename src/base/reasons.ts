/**
 * The closed set of verdict reasons (design §3). They are API: conditions,
 * Events, metrics and alerts use these exact strings. The split into two
 * unions is the project's main safety property in types: only a
 * `DefiniteReason` can make a verdict NonCompliant, and a registry or timeout
 * failure can only ever produce an `UnknownReason`.
 */
export const definiteReasons = [
  'SignatureMissing',
  'SignatureInvalid',
  'DigestMismatch',
  'KeyMismatch',
  'IdentityMismatch',
  'CertificateUntrusted',
  'CertificateExpired',
  'TransparencyLogMissing',
  'AttestationMissing',
  'AttestationInvalid',
  'ProvenanceMismatch',
  'SbomMissing',
  'SbomDeniedPackage',
  'SbomDeniedLicense',
  'SbomTooOld',
  'SbomUndated',
  /**
   * The registry served more evidence than the count limits or the byte
   * budget let Sigwatch judge, and none of what was judged (the newest items
   * within the limits) verified. Definite: the content arrived completely.
   */
  'EvidenceLimitExceeded',
] as const;

export const unknownReasons = [
  'RegistryUnavailable',
  'RegistryUnauthorized',
  'RateLimited',
  'DigestUnresolved',
  'IndexUnresolved',
  'EvidenceIncomplete',
  'TrustMaterialStale',
  'PolicyNotReady',
  'VersionUnparseable',
] as const;

export type DefiniteReason = (typeof definiteReasons)[number];
export type UnknownReason = (typeof unknownReasons)[number];
export type Reason = DefiniteReason | UnknownReason;

export function isDefiniteReason(value: string): value is DefiniteReason {
  return (definiteReasons as readonly string[]).includes(value);
}

export function isUnknownReason(value: string): value is UnknownReason {
  return (unknownReasons as readonly string[]).includes(value);
}
