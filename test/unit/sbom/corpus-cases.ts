/**
 * Shared table helpers for the SBOM corpus tests: which cases exist, how to
 * read them, and the expectations every normalised SBOM must meet from the
 * collector's facts (test/fixtures/README.md: "Facts … can be used as expected values").
 */
import { expect } from 'chai';
import { SbomError, type SbomErrorCode } from '../../../src/sbom/errors.js';
import type { NormalisedSbom } from '../../../src/sbom/model.js';
import { parseSbom, parseSbomText } from '../../../src/sbom/parse.js';
import { loadCases, readCaseText, stringInput, type TestCase } from '../../support/testdata.js';

/** Sources with SBOM cases and the kinds the SBOM parser owns. */
export const sbomSources = [
  'spdx-examples',
  'spdx-spec',
  'syft',
  'guac',
  'guac-data',
  'cdxgen',
  'cyclonedx-bom-examples',
  'cosign',
] as const;
export const sbomKinds = ['sbom-spdx', 'sbom-cyclonedx', 'sbom-other'] as const;

export function sbomCases(): TestCase[] {
  return sbomSources.flatMap((source) => sbomKinds.flatMap((kind) => loadCases(source, kind)));
}

/** The case's SBOM text (`inputs.sbom`). */
export function caseSbomText(testCase: TestCase): string {
  const name = stringInput(testCase.inputs, 'sbom');
  if (name === undefined) throw new TypeError(`${testCase.source}/${testCase.id} has no sbom input`);
  return readCaseText(testCase, name);
}

/** `parseSbomText`, returning the SbomError instead of throwing; any other throw fails the test (a crash is never an outcome). */
export function outcome(text: string): NormalisedSbom | SbomError {
  return settle(() => parseSbomText(text));
}

/** `parseSbom` of a JSON value, returning the SbomError instead of throwing it. */
export function outcomeOf(json: unknown): NormalisedSbom | SbomError {
  return settle(() => parseSbom(json));
}

function settle(parse: () => NormalisedSbom): NormalisedSbom | SbomError {
  try {
    return parse();
  } catch (error: unknown) {
    if (error instanceof SbomError) return error;
    throw error;
  }
}

export function expectAccepted(result: NormalisedSbom | SbomError): NormalisedSbom {
  if (result instanceof SbomError)
    expect.fail(`expected the SBOM to parse, got ${result.code}: ${result.message}`);
  return result;
}

/** Asserts `result` (a parse outcome or a caught value) is an SbomError with `code` (and `path`, when given). */
export function expectRejected(result: unknown, code: SbomErrorCode, path?: string): void {
  if (!(result instanceof SbomError)) expect.fail(`expected ${code}, got ${String(result)}`);
  expect(result.code).to.equal(code);
  if (path !== undefined) expect(result.path).to.equal(path);
}

/** A `yieldControl` fake that counts its calls and never waits on a real timer. */
export function countingYield(): {
  readonly yieldControl: () => Promise<void>;
  readonly count: () => number;
} {
  let calls = 0;
  return {
    yieldControl: () => {
      calls += 1;
      return Promise.resolve();
    },
    count: () => calls,
  };
}

/** A number fact, or undefined when the collector did not compute it. */
export function numberFact(testCase: TestCase, name: string): number | undefined {
  const value = testCase.facts[name];
  return typeof value === 'number' ? value : undefined;
}

/** `metadata_component.name` (CycloneDX) or `document_name` (SPDX), when a string. */
export function subjectFact(testCase: TestCase): string | undefined {
  const documentName = testCase.facts['document_name'];
  if (typeof documentName === 'string') return documentName;
  const component = testCase.facts['metadata_component'];
  if (typeof component !== 'object' || component === null) return undefined;
  const name = (component as Record<string, unknown>)['name'];
  return typeof name === 'string' ? name : undefined;
}

/** The spec version the model reports: `SPDX-2.2` → `2.2`, CycloneDX as is. */
export function specVersionFact(testCase: TestCase): string | undefined {
  const spdx = testCase.facts['spdxVersion'];
  if (typeof spdx === 'string') return spdx.replace(/^SPDX-/, '');
  const cdx = testCase.facts['specVersion'];
  return typeof cdx === 'string' ? cdx : undefined;
}
