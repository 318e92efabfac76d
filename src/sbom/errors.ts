import { SigwatchError } from '../base/errors.js';

/**
 * Codes of errors raised while reading an SBOM.
 *
 * - `SbomInvalid`: the document claims a format Sigwatch reads (SPDX 2.2/2.3
 *   JSON, CycloneDX 1.2+ JSON) but breaks a rule of that format that policies
 *   depend on, or is not JSON at all.
 * - `SbomUnsupported`: well-formed JSON that is not a format Sigwatch reads
 *   (SPDX 3.0, SPDX tag-value, CycloneDX before 1.2, any other document).
 *
 * Callers branch on `code`; `path` says where, for operators and tests.
 */
export type SbomErrorCode = 'SbomInvalid' | 'SbomUnsupported';

/** The path given for a problem with the input as a whole (not JSON, not an object, no format marker). */
export const documentPath = '(document)';

export class SbomError extends SigwatchError<SbomErrorCode> {
  /** JSON path of the offending field, e.g. `packages[3].SPDXID`, or `documentPath`. */
  readonly path: string;

  /** The message is `<path>: <problem>`; the original failure, if any, goes in `options.cause`. */
  constructor(code: SbomErrorCode, path: string, problem: string, options?: ErrorOptions) {
    super(code, `${path}: ${problem}`, options);
    this.path = path;
  }
}
