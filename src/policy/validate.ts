/**
 * Validation of an ImagePolicy spec from untrusted, already-parsed JSON or
 * YAML (the CLI's `--policy` file, or an object the API server stored before
 * our CRD schema could catch everything, e.g. RE2 syntax and PEM keys).
 *
 * Every problem is reported with its field path, not only the first, so an
 * admin fixes a policy in one round. A spec is usable only with zero
 * problems; warnings (unanchored patterns) go into the `Ready` message.
 * Pure: no clock (an expired exception is valid; evaluation ignores it).
 */
import { policyDefaults, policyModes, type ImagePolicySpec } from './spec.js';
import { readAuthorities } from './validate-authorities.js';
import { readMatch } from './validate-match.js';
import { readActions, readAdmission, readAttestations, readExceptions, readSbom } from './validate-rules.js';
import {
  Findings,
  readDuration,
  readEnum,
  readObject,
  type PolicyProblem,
  type PolicyWarning,
} from './validate-shape.js';

export type { PolicyProblem, PolicyProblemCode, PolicyWarning, PolicyWarningCode } from './validate-shape.js';

export interface PolicyValidation {
  /** The spec with defaults applied; present exactly when `problems` is empty. */
  readonly spec?: ImagePolicySpec;
  readonly problems: readonly PolicyProblem[];
  readonly warnings: readonly PolicyWarning[];
}

const specFields = [
  'mode',
  'match',
  'authorities',
  'attestations',
  'sbom',
  'exceptions',
  'actions',
  'admission',
  'reverifyInterval',
] as const;

/** Re-verifying more often than this would only load registries; evidence is cached for minutes anyway. */
const minReverifyIntervalMs = 60_000;

/**
 * Validates `value` as `ImagePolicy.spec` (paths start at `spec`). Never
 * throws, whatever the input; problem and warning codes are a closed set
 * (PolicyProblemCode, PolicyWarningCode).
 */
export function validatePolicySpec(value: unknown): PolicyValidation {
  const f = new Findings();
  const spec = readSpec(f, 'spec', value);
  const result = { problems: f.problems, warnings: f.warnings };
  return f.problems.length === 0 && spec !== undefined ? { spec, ...result } : result;
}

function readSpec(f: Findings, path: string, value: unknown): ImagePolicySpec | undefined {
  const o = readObject(f, path, value, specFields);
  if (o === undefined) return undefined;
  const mode = readEnum(f, `${path}.mode`, o.mode, policyModes, policyDefaults.mode);
  const match =
    o.match === undefined
      ? (f.problem(`${path}.match`, 'Required', 'required'), undefined)
      : readMatch(f, `${path}.match`, o.match);
  const authorities = readAuthorities(f, `${path}.authorities`, o.authorities);
  const attestations = readAttestations(f, `${path}.attestations`, o.attestations);
  const sbom = readSbom(f, `${path}.sbom`, o.sbom);
  const exceptions = readExceptions(f, `${path}.exceptions`, o.exceptions);
  const actions = readActions(f, `${path}.actions`, o.actions);
  const admission = readAdmission(f, `${path}.admission`, o.admission);
  const reverify = readDuration(
    f,
    `${path}.reverifyInterval`,
    o.reverifyInterval,
    policyDefaults.reverifyInterval,
    minReverifyIntervalMs,
  );
  if (mode === undefined || match === undefined || authorities === undefined || attestations === undefined) {
    return undefined;
  }
  if (
    sbom === undefined ||
    exceptions === undefined ||
    actions === undefined ||
    admission === undefined ||
    reverify.text === undefined
  ) {
    return undefined;
  }
  return {
    mode,
    match,
    authorities,
    attestations,
    sbom,
    exceptions,
    actions,
    admission,
    reverifyInterval: reverify.text,
  };
}
