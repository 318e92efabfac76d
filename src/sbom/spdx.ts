/**
 * SPDX 2.2 / 2.3 JSON reader (formats.md §8; spdx/spdx-spec schemas/spdx-schema.json).
 *
 * Strict where policies depend on the document being what it claims: the
 * document SPDXID, `creationInfo` (an SBOM without a creation time or
 * creators cannot be judged for freshness or origin), package names and ids.
 * Tolerant, with a warning, where real generators deviate in fields policies
 * do not read (README "SBOM deviations Sigwatch tolerates"). Files, snippets and relationships are ignored:
 * policies judge packages.
 */
import { SbomError } from './errors.js';
import {
  arrayAt,
  dateTimeAt,
  invalid,
  objectAt,
  optionalStringAt,
  pushUnique,
  stringAt,
  WarningLog,
  type DocumentReader,
  type JsonObject,
} from './fields.js';
import type { SbomComponent } from './model.js';

const supportedVersions: Readonly<Record<string, '2.2' | '2.3'>> = { 'SPDX-2.2': '2.2', 'SPDX-2.3': '2.3' };

// SPDX 2 idstring: "SPDXRef-" followed by letters, digits, "." and "-".
const strictSpdxId = /^SPDXRef-[A-Za-z0-9.-]+$/;

/** License values that mean "no license information", not a license. */
const noLicense = new Set(['NOASSERTION', 'NONE']);

/**
 * Reads an SPDX 2.x JSON document (`spdxVersion` present).
 * Throws `SbomUnsupported` for other SPDX versions, `SbomInvalid` for a broken header.
 */
export function readSpdx(doc: JsonObject): DocumentReader {
  const versionField = stringAt(doc['spdxVersion'], 'spdxVersion');
  const version = supportedVersions[versionField];
  if (version === undefined) {
    const problem = `${JSON.stringify(versionField)} is not SPDX-2.2 or SPDX-2.3`;
    throw new SbomError('SbomUnsupported', 'spdxVersion', problem);
  }
  if (doc['SPDXID'] !== 'SPDXRef-DOCUMENT') invalid('SPDXID', 'must be "SPDXRef-DOCUMENT"');
  const subject = stringAt(doc['name'], 'name');

  const warnings = new WarningLog();
  const creationInfo = objectAt(doc['creationInfo'], 'creationInfo');
  const created = dateTimeAt(creationInfo['created'], 'creationInfo.created');
  // syft writes microseconds; the instant is still exact, so only note it.
  if (/\.\d+/.test(String(creationInfo['created'])))
    warnings.note('SpdxCreatedPrecision', 'creationInfo.created');
  const creators = arrayAt(creationInfo['creators'], 'creationInfo.creators');
  if (creators.length === 0) invalid('creationInfo.creators', 'must list at least one creator');
  // Objects such as {"Person": "…"} are the malformed encoding syft's tests reject.
  creators.forEach((creator, i) => stringAt(creator, `creationInfo.creators[${String(i)}]`));

  const packages = arrayAt(doc['packages'], 'packages');
  return {
    format: 'SPDX',
    specVersion: version,
    created,
    subject,
    warnings,
    *components() {
      for (const [i, raw] of packages.entries()) {
        yield readPackage(raw, `packages[${String(i)}]`, version, warnings);
      }
    },
  };
}

function readPackage(
  raw: unknown,
  path: string,
  version: '2.2' | '2.3',
  warnings: WarningLog,
): SbomComponent {
  const pkg = objectAt(raw, path);
  const spdxId = stringAt(pkg['SPDXID'], `${path}.SPDXID`);
  if (!spdxId.startsWith('SPDXRef-') || spdxId.length === 'SPDXRef-'.length) {
    invalid(`${path}.SPDXID`, 'must be "SPDXRef-" followed by an id');
  }
  if (!strictSpdxId.test(spdxId)) warnings.note('SpdxIdCharacters', `${path}.SPDXID`);
  const name = stringAt(pkg['name'], `${path}.name`);
  if (name === '') invalid(`${path}.name`, 'must not be empty');

  const required = version === '2.2' ? requiredFields22 : requiredFields23;
  const missing = required.find((field) => pkg[field] === undefined);
  if (missing !== undefined) warnings.note('SpdxPackageFieldMissing', `${path}.${missing}`);

  const licenses: string[] = [];
  for (const field of ['licenseConcluded', 'licenseDeclared']) {
    const license = optionalStringAt(pkg[field], `${path}.${field}`);
    if (license !== undefined && !noLicense.has(license)) pushUnique(licenses, license);
  }
  const purl = readPurl(pkg['externalRefs'], `${path}.externalRefs`, version, warnings);
  const versionInfo = optionalStringAt(pkg['versionInfo'], `${path}.versionInfo`);
  return {
    name,
    ...(versionInfo === undefined ? {} : { version: versionInfo }),
    ...(purl === undefined ? {} : { purl }),
    licenses,
  };
}

// Required beyond SPDXID and name (checked strictly above); policies do not read these.
const requiredFields22 = [
  'downloadLocation',
  'licenseConcluded',
  'licenseDeclared',
  'copyrightText',
] as const;
const requiredFields23 = ['downloadLocation'] as const;

// The 2.2 schema spells the category both ways; 2.3 only with a hyphen.
const purlCategories22: readonly unknown[] = ['PACKAGE-MANAGER', 'PACKAGE_MANAGER'];
const purlCategories23: readonly unknown[] = ['PACKAGE-MANAGER'];

/** The first `purl` external reference's locator; later ones are ignored (one package, one identity). */
function readPurl(
  value: unknown,
  path: string,
  version: '2.2' | '2.3',
  warnings: WarningLog,
): string | undefined {
  const categories = version === '2.2' ? purlCategories22 : purlCategories23;
  for (const [i, raw] of arrayAt(value, path).entries()) {
    const refPath = `${path}[${String(i)}]`;
    const ref = objectAt(raw, refPath);
    if (ref['referenceType'] !== 'purl') continue;
    if (!categories.includes(ref['referenceCategory']))
      warnings.note('SpdxPurlCategory', `${refPath}.referenceCategory`);
    return stringAt(ref['referenceLocator'], `${refPath}.referenceLocator`);
  }
  return undefined;
}
