/**
 * CycloneDX 1.2–1.7 JSON reader (formats.md §8; CycloneDX/specification
 * schema/bom-1.x.schema.json).
 *
 * Sigwatch is not a schema validator: it enforces what the normalised model
 * depends on (bomFormat, specVersion, timestamp, component type and name,
 * license entries that name a license) and ignores the rest of the document.
 * Nested `components[]` are flattened depth-first; `type: file` entries are
 * not components (as SPDX files are not packages) but their children are read.
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

/** The newest minor version whose schema Sigwatch was checked against; newer ones read with a warning. */
export const newestCycloneDxMinor = 7;
// 1.0 and 1.1 had no JSON serialisation.
const oldestCycloneDxMinor = 2;

/**
 * Reads a CycloneDX JSON document (`bomFormat` present).
 * Throws `SbomInvalid` for a wrong bomFormat or malformed specVersion, `SbomUnsupported` for 1.0/1.1.
 */
export function readCycloneDx(doc: JsonObject): DocumentReader {
  if (doc['bomFormat'] !== 'CycloneDX') invalid('bomFormat', 'must be "CycloneDX"');
  const specVersion = stringAt(doc['specVersion'], 'specVersion');
  const match = /^1\.(0|[1-9]\d*)$/.exec(specVersion);
  if (match?.[1] === undefined) invalid('specVersion', 'must be "1.<minor>"');
  const minor = Number(match[1]);
  if (minor < oldestCycloneDxMinor) {
    throw new SbomError('SbomUnsupported', 'specVersion', `${specVersion} has no JSON form Sigwatch reads`);
  }
  const warnings = new WarningLog();
  if (minor > newestCycloneDxMinor) warnings.note('CycloneDxNewerSpecVersion', 'specVersion');

  const metadata = doc['metadata'] === undefined ? undefined : objectAt(doc['metadata'], 'metadata');
  const created =
    metadata?.['timestamp'] === undefined
      ? undefined
      : dateTimeAt(metadata['timestamp'], 'metadata.timestamp');
  const subjectComponent =
    metadata?.['component'] === undefined ? undefined : objectAt(metadata['component'], 'metadata.component');
  const subject =
    subjectComponent === undefined
      ? undefined
      : stringAt(subjectComponent['name'], 'metadata.component.name');
  const top = arrayAt(doc['components'], 'components');

  return {
    format: 'CycloneDX',
    specVersion,
    ...(created === undefined ? {} : { created }),
    ...(subject === undefined ? {} : { subject }),
    warnings,
    *components() {
      // Explicit stack, not recursion: nesting depth is attacker-controlled.
      const stack: { raw: unknown; path: string }[] = [];
      const pushAll = (list: readonly unknown[], path: string): void => {
        for (let i = list.length - 1; i >= 0; i--)
          stack.push({ raw: list[i], path: `${path}[${String(i)}]` });
      };
      pushAll(top, 'components');
      for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
        const component = objectAt(next.raw, next.path);
        const read = readComponent(component, next.path, minor, warnings);
        pushAll(arrayAt(component['components'], `${next.path}.components`), `${next.path}.components`);
        if (read !== undefined) yield read;
      }
    },
  };
}

/** A component, or undefined for a `file` entry. */
function readComponent(
  component: JsonObject,
  path: string,
  minor: number,
  warnings: WarningLog,
): SbomComponent | undefined {
  const type = stringAt(component['type'], `${path}.type`);
  const name = stringAt(component['name'], `${path}.name`);
  if (name === '') invalid(`${path}.name`, 'must not be empty');
  if (type === 'file') return undefined;
  const version = optionalStringAt(component['version'], `${path}.version`);
  const purl = optionalStringAt(component['purl'], `${path}.purl`);
  return {
    name,
    ...(version === undefined ? {} : { version }),
    ...(purl === undefined ? {} : { purl }),
    licenses: readLicenses(component['licenses'], `${path}.licenses`, minor, warnings),
  };
}

/**
 * `licenses[]`: `{license: {id}}`, `{license: {name}}` or `{expression}`.
 * An entry with both or neither is ambiguous and rejected; an entry whose
 * license has neither id nor name names nothing and is rejected.
 */
function readLicenses(value: unknown, path: string, minor: number, warnings: WarningLog): string[] {
  const licenses: string[] = [];
  let expressions = 0;
  const entries = arrayAt(value, path);
  for (const [i, raw] of entries.entries()) {
    const entryPath = `${path}[${String(i)}]`;
    const entry = objectAt(raw, entryPath);
    const hasLicense = entry['license'] !== undefined;
    if (hasLicense === (entry['expression'] !== undefined)) {
      invalid(entryPath, 'must have exactly one of "license" and "expression"');
    }
    if (!hasLicense) {
      expressions++;
      pushUnique(licenses, stringAt(entry['expression'], `${entryPath}.expression`));
      continue;
    }
    const license = objectAt(entry['license'], `${entryPath}.license`);
    const id = optionalStringAt(license['id'], `${entryPath}.license.id`);
    const name = optionalStringAt(license['name'], `${entryPath}.license.name`);
    const named = id ?? name;
    if (named === undefined) invalid(`${entryPath}.license`, 'must have an "id" or a "name"');
    pushUnique(licenses, named);
  }
  // From 1.5 the array is license objects or exactly one expression; a mix
  // still names licenses, so keep all of them rather than guess which applies.
  if (minor >= 5 && expressions > 0 && entries.length > 1) warnings.note('CycloneDxLicenseMix', path);
  return licenses;
}
