/**
 * Loader for the fixture corpus in `test/fixtures/`: byte-for-byte copies of
 * other projects' published test data, one folder per upstream source with
 * its unmodified `cases.json` (cases, inputs, variant checks);
 * test/fixtures/README.md gives each source's origin and license and the
 * format. Tests read files through these helpers so a case is always
 * addressed the same way: by source and case folder.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from '@sigstore/core';

/** `test/fixtures/` (this file is `test/support/testdata.ts`). */
export const testdataRoot = new URL('../fixtures/', import.meta.url);

/** The public-good production trusted root snapshot, for cases without their own root. */
export const productionTrustedRoot = new URL(
  'sigstore-conformance/trust/trusted_root.production.json',
  testdataRoot,
);

/** A file of the corpus, by its path below `test/fixtures/` (e.g. `containers-image/rekor-set/rekor.pub`). */
export function testdataUrl(path: string): URL {
  return new URL(path, testdataRoot);
}

/** The text of a corpus file, by its path below `test/fixtures/`. */
export function readTestdata(path: string): string {
  return readFileSync(testdataUrl(path), 'utf8');
}

/** The bytes of a corpus file, by its path below `test/fixtures/`. */
export function readTestdataBytes(path: string): Buffer {
  return readFileSync(testdataUrl(path));
}

export type Expected = 'pass' | 'fail';

/** The same data under different inputs (cases.json `checks`). */
export interface CaseCheck {
  readonly name: string;
  readonly expected: Expected;
  /** Why the upstream harness expects this outcome (often the upstream error code). */
  readonly why?: string;
  /** Inputs that replace the case's own for this check. */
  readonly inputs: Readonly<Record<string, unknown>>;
}

export interface TestCase {
  /** Source folder, e.g. `sigstore-conformance`. */
  readonly source: string;
  readonly id: string;
  /** Case folder relative to the source folder; unique within a source (ids are not). */
  readonly dir: string;
  readonly kind: string;
  readonly expected: Expected;
  readonly description: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  readonly checks: readonly CaseCheck[];
  readonly facts: Readonly<Record<string, unknown>>;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`cases.json: ${what} is not a string`);
  return value;
}

function expected(value: unknown, what: string): Expected {
  if (value !== 'pass' && value !== 'fail') throw new TypeError(`cases.json: ${what} is not pass|fail`);
  return value;
}

function toCheck(value: unknown, where: string): CaseCheck {
  if (!isRecord(value)) throw new TypeError(`cases.json: ${where} is not an object`);
  const why = value['why'];
  return {
    name: text(value['name'], `${where}.name`),
    expected: expected(value['expected'], `${where}.expected`),
    ...(typeof why === 'string' ? { why } : {}),
    inputs: isRecord(value['inputs']) ? value['inputs'] : {},
  };
}

/** Every case of `source` (optionally only of `kind`), in cases.json order. */
export function loadCases(source: string, kind?: string): TestCase[] {
  const index: unknown = JSON.parse(readFileSync(new URL(`${source}/cases.json`, testdataRoot), 'utf8'));
  const cases = isRecord(index) ? index['cases'] : undefined;
  if (!Array.isArray(cases)) throw new TypeError(`${source}/cases.json has no cases array`);
  return cases
    .map((raw: unknown, i): TestCase => {
      const where = `${source} cases[${String(i)}]`;
      if (!isRecord(raw)) throw new TypeError(`cases.json: ${where} is not an object`);
      const checks = Array.isArray(raw['checks']) ? raw['checks'] : [];
      return {
        source,
        id: text(raw['id'], `${where}.id`),
        dir: text(raw['dir'], `${where}.dir`),
        kind: text(raw['kind'], `${where}.kind`),
        expected: expected(raw['expected'], `${where}.expected`),
        description: text(raw['description'], `${where}.description`),
        inputs: isRecord(raw['inputs']) ? raw['inputs'] : {},
        checks: checks.map((c: unknown, j) => toCheck(c, `${where}.checks[${String(j)}]`)),
        facts: isRecord(raw['facts']) ? raw['facts'] : {},
      };
    })
    .filter((c) => kind === undefined || c.kind === kind);
}

/** A file of a case, by a path relative to its folder (as cases.json inputs give them). */
export function caseFile(testCase: TestCase, relative: string): URL {
  return new URL(relative, new URL(`${testCase.source}/${testCase.dir}/`, testdataRoot));
}

export function readCaseBytes(testCase: TestCase, relative: string): Buffer {
  return readFileSync(caseFile(testCase, relative));
}

export function readCaseText(testCase: TestCase, relative: string): string {
  return readFileSync(caseFile(testCase, relative), 'utf8');
}

export function readJson(url: URL): unknown {
  return JSON.parse(readFileSync(url, 'utf8'));
}

/** A string input of the case, or undefined. */
export function stringInput(inputs: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = inputs[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The trusted root a Sigstore bundle case is verified against: its own file
 * when `inputs.trusted_root` names one, else (no input, or an input that
 * points at the public-good production root) the production snapshot.
 */
export function caseTrustedRoot(testCase: TestCase): URL {
  const named = stringInput(testCase.inputs, 'trusted_root');
  return named === undefined || named.includes('production')
    ? productionTrustedRoot
    : caseFile(testCase, named);
}

/** The leaf certificate of a Sigstore bundle of the corpus (`certificate`, or a chain's first). */
export function readBundleLeaf(path: string): X509Certificate {
  const bundle = JSON.parse(readTestdata(path)) as {
    verificationMaterial: {
      certificate?: { rawBytes: string };
      x509CertificateChain?: { certificates: { rawBytes: string }[] };
    };
  };
  const material = bundle.verificationMaterial;
  const raw = material.certificate?.rawBytes ?? material.x509CertificateChain?.certificates[0]?.rawBytes;
  if (raw === undefined) throw new Error(`${path} has no leaf certificate`);
  return X509Certificate.parse(Buffer.from(raw, 'base64'));
}
