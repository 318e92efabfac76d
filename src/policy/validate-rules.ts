/**
 * Validation of the evidence rules and consequences of a policy:
 * `attestations[]`, `sbom`, `exceptions[]`, `actions` and `admission`. Predicate types,
 * purls and version ranges are parsed with the code that later evaluates
 * them, so what validates here is what the evaluator understands.
 */
import { parsePurl } from '../sbom/purl.js';
import { parseRange } from '../sbom/range.js';
import { resolvePredicateType } from '../verify/predicate-types.js';
import {
  admissionUnknownValues,
  evictableKinds,
  policyDefaults,
  unparseableVersionActions,
  type AdmissionSettings,
  type AttestationRule,
  type DeniedPackage,
  type PolicyActions,
  type PolicyException,
  type ProvenanceRule,
  type SbomRule,
} from './spec.js';
import { readPattern } from './validate-authorities.js';
import { readGlobs } from './validate-match.js';
import {
  checkUnique,
  readBoolean,
  readDuration,
  readEnum,
  readInteger,
  readList,
  readObject,
  readString,
  type Findings,
} from './validate-shape.js';

const slsaProvenancePrefix = 'https://slsa.dev/provenance/';

function readProvenance(f: Findings, path: string, value: unknown): ProvenanceRule | undefined {
  const o = readObject(f, path, value, ['builderIdRegExp', 'sourceRepositories', 'buildType']);
  if (o === undefined) return undefined;
  const builder = readPattern(
    f,
    `${path}.builderIdRegExp`,
    o.builderIdRegExp,
    'attestations[].provenance.builderIdRegExp',
    true,
  );
  const repos = readList(
    f,
    `${path}.sourceRepositories`,
    o.sourceRepositories,
    'attestations[].provenance.sourceRepositories',
    (item, p) => readString(f, p, item, 'attestations[].provenance.sourceRepositories[]', true),
  );
  const buildType = readString(
    f,
    `${path}.buildType`,
    o.buildType,
    'attestations[].provenance.buildType',
    false,
  );
  if (
    builder === undefined ||
    repos === undefined ||
    (o.buildType !== undefined && buildType === undefined)
  ) {
    return undefined;
  }
  return {
    builderIdRegExp: builder,
    sourceRepositories: repos,
    ...(buildType === undefined ? {} : { buildType }),
  };
}

function readAttestation(f: Findings, path: string, value: unknown): AttestationRule | undefined {
  const o = readObject(f, path, value, ['name', 'predicateType', 'provenance']);
  if (o === undefined) return undefined;
  const name = readString(f, `${path}.name`, o.name, 'attestations[].name', true);
  const predicateType = readString(
    f,
    `${path}.predicateType`,
    o.predicateType,
    'attestations[].predicateType',
    true,
  );
  const resolved = predicateType === undefined ? undefined : resolvePredicateType(predicateType);
  if (predicateType !== undefined && resolved === undefined) {
    f.problem(
      `${path}.predicateType`,
      'UnknownPredicateType',
      'neither a known shortcut nor an absolute URI',
    );
  }
  let provenance: ProvenanceRule | undefined;
  let provenanceOk = true;
  if (o.provenance !== undefined) {
    provenance = readProvenance(f, `${path}.provenance`, o.provenance);
    provenanceOk = provenance !== undefined;
    // Provenance rules read SLSA fields; on another predicate they could never pass.
    if (resolved !== undefined && !resolved.startsWith(slsaProvenancePrefix)) {
      f.problem(
        `${path}.provenance`,
        'InvalidCombination',
        'provenance rules need a SLSA provenance predicateType',
      );
      provenanceOk = false;
    }
  }
  if (name === undefined || predicateType === undefined || resolved === undefined || !provenanceOk)
    return undefined;
  return { name, predicateType, ...(provenance === undefined ? {} : { provenance }) };
}

/** Reads `spec.attestations` (default: none); names unique. */
export function readAttestations(f: Findings, path: string, value: unknown): AttestationRule[] | undefined {
  const rules = readList(f, path, value, 'attestations', (item, p) => readAttestation(f, p, item));
  if (rules !== undefined) {
    const before = f.problems.length;
    checkUnique(
      f,
      path,
      rules.map((r) => r.name),
      'name',
    );
    if (f.problems.length !== before) return undefined;
  }
  return rules;
}

function readDeniedPackage(f: Findings, path: string, value: unknown): DeniedPackage | undefined {
  const o = readObject(f, path, value, ['purl', 'versions']);
  if (o === undefined) return undefined;
  const text = readString(f, `${path}.purl`, o.purl, 'sbom.deny.packages[].purl', true);
  const purl = text === undefined ? undefined : parsePurl(text);
  if (text !== undefined && purl === undefined) f.problem(`${path}.purl`, 'InvalidPurl', 'not a package URL');
  if (purl?.version !== undefined) {
    f.problem(`${path}.purl`, 'InvalidPurl', 'put the version in "versions", not in the purl');
    return undefined;
  }
  const versions = readString(f, `${path}.versions`, o.versions, 'sbom.deny.packages[].versions', false);
  if (versions !== undefined && purl !== undefined && parseRange(versions, purl.type) === undefined) {
    f.problem(`${path}.versions`, 'InvalidRange', `not a version range for ${purl.type} packages`);
    return undefined;
  }
  if (text === undefined || purl === undefined || (o.versions !== undefined && versions === undefined))
    return undefined;
  return { purl: text, ...(versions === undefined ? {} : { versions }) };
}

/** Reads `spec.sbom`, applying policyDefaults.sbom; absent means no SBOM rules. */
export function readSbom(f: Findings, path: string, value: unknown): SbomRule | undefined {
  const d = policyDefaults.sbom;
  const empty: SbomRule = { ...d, deny: { packages: [], licenses: [] } };
  if (value === undefined) return empty;
  const o = readObject(f, path, value, ['required', 'maxAge', 'deny', 'onUnparseableVersion']);
  if (o === undefined) return undefined;
  const required = readBoolean(f, `${path}.required`, o.required, d.required);
  const maxAge = readDuration(f, `${path}.maxAge`, o.maxAge, undefined, 1);
  const onUnparseable = readEnum(
    f,
    `${path}.onUnparseableVersion`,
    o.onUnparseableVersion,
    unparseableVersionActions,
    d.onUnparseableVersion,
  );
  const deny: Partial<Record<'packages' | 'licenses', unknown>> | undefined =
    o.deny === undefined ? {} : readObject(f, `${path}.deny`, o.deny, ['packages', 'licenses']);
  const packages = readList(f, `${path}.deny.packages`, deny?.packages, 'sbom.deny.packages', (item, p) =>
    readDeniedPackage(f, p, item),
  );
  const licenses = readList(f, `${path}.deny.licenses`, deny?.licenses, 'sbom.deny.licenses', (item, p) =>
    readString(f, p, item, 'sbom.deny.licenses[]', true),
  );
  if (required === undefined || !maxAge.ok || onUnparseable === undefined || deny === undefined)
    return undefined;
  if (packages === undefined || licenses === undefined) return undefined;
  return {
    required,
    ...(maxAge.text === undefined ? {} : { maxAge: maxAge.text }),
    deny: { packages, licenses },
    onUnparseableVersion: onUnparseable,
  };
}

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Strict RFC 3339: the fields must name a real instant (no Feb 30, no hour 24), not just parse. */
export function isRfc3339(text: string): boolean {
  const m = rfc3339.exec(text);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetOk = m[9] === undefined || (Number(m[9]) < 24 && Number(m[10]) < 60);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  return (
    offsetOk &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

function readException(f: Findings, path: string, value: unknown): PolicyException | undefined {
  const o = readObject(f, path, value, ['images', 'reason', 'expires']);
  if (o === undefined) return undefined;
  const images = readGlobs(f, `${path}.images`, o.images, 'exceptions[].images');
  // Required: an exemption must say why (design §2: documented, expiring).
  const reason = readString(f, `${path}.reason`, o.reason, 'exceptions[].reason', true);
  const expires = readString(f, `${path}.expires`, o.expires, 'exceptions[].expires', true);
  if (expires !== undefined && !isRfc3339(expires)) {
    f.problem(
      `${path}.expires`,
      'InvalidTimestamp',
      'expected an RFC 3339 time such as 2027-03-31T00:00:00Z',
    );
    return undefined;
  }
  if (images === undefined || reason === undefined || expires === undefined) return undefined;
  return { images, reason, expires };
}

/** Reads `spec.exceptions` (default: none). */
export function readExceptions(f: Findings, path: string, value: unknown): PolicyException[] | undefined {
  return readList(f, path, value, 'exceptions', (item, p) => readException(f, p, item));
}

/** Reads `spec.actions`, applying policyDefaults.actions (label only, no evictions). */
export function readActions(f: Findings, path: string, value: unknown): PolicyActions | undefined {
  const d = policyDefaults.actions;
  const o: Partial<Record<'label' | 'evict', unknown>> | undefined =
    value === undefined ? {} : readObject(f, path, value, ['label', 'evict']);
  if (o === undefined) return undefined;
  const label = readBoolean(f, `${path}.label`, o.label, d.label);
  const ePath = `${path}.evict`;
  const evictFields = [
    'enabled',
    'noncompliantFor',
    'maxPerHour',
    'perOwnerInterval',
    'includeKinds',
    'maxNewViolationsPercent',
  ] as const;
  const e: Partial<Record<(typeof evictFields)[number], unknown>> | undefined =
    o.evict === undefined ? {} : readObject(f, ePath, o.evict, evictFields);
  if (e === undefined || label === undefined) return undefined;
  const enabled = readBoolean(f, `${ePath}.enabled`, e.enabled, d.evict.enabled);
  const since = readDuration(f, `${ePath}.noncompliantFor`, e.noncompliantFor, d.evict.noncompliantFor, 0);
  const maxPerHour = readInteger(f, `${ePath}.maxPerHour`, e.maxPerHour, d.evict.maxPerHour, {
    min: 0,
    max: 10_000,
  });
  const perOwner = readDuration(
    f,
    `${ePath}.perOwnerInterval`,
    e.perOwnerInterval,
    d.evict.perOwnerInterval,
    0,
  );
  const kinds = readList(
    f,
    `${ePath}.includeKinds`,
    e.includeKinds,
    'actions.evict.includeKinds',
    (item, p) => readEnum(f, p, item, evictableKinds, undefined),
  );
  if (kinds !== undefined) checkUnique(f, `${ePath}.includeKinds`, kinds, '');
  const percent = readInteger(
    f,
    `${ePath}.maxNewViolationsPercent`,
    e.maxNewViolationsPercent,
    d.evict.maxNewViolationsPercent,
    {
      min: 0,
      max: 100,
    },
  );
  if (enabled === undefined || since.text === undefined || maxPerHour === undefined) return undefined;
  if (perOwner.text === undefined || kinds === undefined || percent === undefined) return undefined;
  if (new Set(kinds).size !== kinds.length) return undefined;
  return {
    label,
    evict: {
      enabled,
      noncompliantFor: since.text,
      maxPerHour,
      perOwnerInterval: perOwner.text,
      includeKinds: kinds,
      maxNewViolationsPercent: percent,
    },
  };
}

/** Reads `spec.admission`, applying policyDefaults.admission. */
export function readAdmission(f: Findings, path: string, value: unknown): AdmissionSettings | undefined {
  const d = policyDefaults.admission;
  const o: Partial<Record<'enabled' | 'onUnknown' | 'pinDigests', unknown>> | undefined =
    value === undefined ? {} : readObject(f, path, value, ['enabled', 'onUnknown', 'pinDigests']);
  if (o === undefined) return undefined;
  const enabled = readBoolean(f, `${path}.enabled`, o.enabled, d.enabled);
  const onUnknown = readEnum(f, `${path}.onUnknown`, o.onUnknown, admissionUnknownValues, d.onUnknown);
  const pinDigests = readBoolean(f, `${path}.pinDigests`, o.pinDigests, d.pinDigests);
  if (enabled === undefined || onUnknown === undefined || pinDigests === undefined) return undefined;
  return { enabled, onUnknown, pinDigests };
}
