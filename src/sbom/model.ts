/**
 * The normalised SBOM model every policy reads, whatever the source format.
 * Only the facts policies use (formats.md §8) survive normalisation; the rest
 * of the document is dropped.
 */

/** One software component: an SPDX package or a (flattened) CycloneDX component. */
export interface SbomComponent {
  readonly name: string;
  readonly version?: string;
  /** The purl exactly as the document spells it (not normalised: see purl.ts). */
  readonly purl?: string;
  /** SPDX license expressions, ids or free-text names; `NOASSERTION`/`NONE` are dropped. Deduplicated. */
  readonly licenses: readonly string[];
}

export interface NormalisedSbom {
  readonly format: 'SPDX' | 'CycloneDX';
  /** `2.2`/`2.3` for SPDX (without the `SPDX-` prefix), `1.2`… for CycloneDX. */
  readonly specVersion: string;
  /** SPDX `creationInfo.created` or CycloneDX `metadata.timestamp`; absent when CycloneDX omits it. */
  readonly created?: Date;
  /** SPDX document `name`, or the `name` of CycloneDX `metadata.component`. */
  readonly subject?: string;
  /** Packages/components in document order (CycloneDX depth-first); never files. */
  readonly components: readonly SbomComponent[];
  /** Tolerated deviations, one entry per code: see `SbomWarningCode` and the README section "SBOM deviations Sigwatch tolerates". */
  readonly warnings: readonly string[];
}

/**
 * Deviations from the formats that real generators (syft, cdxgen, trivy, …)
 * emit and Sigwatch tolerates. Each warning string starts with its code
 * followed by `:`, so callers and tests can branch on it (`sbomWarningCode`).
 */
export type SbomWarningCode =
  | 'SpdxIdCharacters'
  | 'SpdxCreatedPrecision'
  | 'SpdxPackageFieldMissing'
  | 'SpdxPurlCategory'
  | 'CycloneDxNewerSpecVersion'
  | 'CycloneDxLicenseMix';

/** One-line explanation per warning code, used in the warning text. */
export const sbomWarningDescriptions: Readonly<Record<SbomWarningCode, string>> = {
  SpdxIdCharacters: 'SPDXID has characters outside [A-Za-z0-9.-] after "SPDXRef-" (syft uses "/")',
  SpdxCreatedPrecision: 'creationInfo.created has fractional seconds; SPDX 2 specifies YYYY-MM-DDThh:mm:ssZ',
  SpdxPackageFieldMissing: 'a package field the spec requires is missing; it is not used by policies',
  SpdxPurlCategory:
    'purl reference category is not PACKAGE-MANAGER (PACKAGE_MANAGER is the SPDX 2.2 spelling)',
  CycloneDxNewerSpecVersion: 'specVersion is newer than 1.7, the newest Sigwatch knows; read as 1.7',
  CycloneDxLicenseMix:
    'licenses mixes an expression with license objects; from 1.5 it must be one or the other',
};

/** The code a warning string starts with, or undefined when it is not one of ours. */
export function sbomWarningCode(warning: string): SbomWarningCode | undefined {
  const code = warning.split(':', 1)[0];
  return code !== undefined && Object.hasOwn(sbomWarningDescriptions, code)
    ? (code as SbomWarningCode)
    : undefined;
}
