/**
 * Format detection, the cosign predicate shapes (formats.md §6) and the
 * chunked async parse. Yields are counted through an injected fake, never
 * timed (style.md: unit tests never assert timings).
 */
import { expect } from 'chai';
import { documentPath, type SbomErrorCode } from '../../../src/sbom/errors.js';
import { defaultChunkSize, parseSbom, parseSbomAsync, parseSbomText } from '../../../src/sbom/parse.js';
import {
  caseSbomText,
  countingYield,
  expectRejected,
  outcome,
  outcomeOf,
  sbomCases,
} from './corpus-cases.js';

const unsupportedValues: readonly { name: string; input: unknown; code: SbomErrorCode; path: string }[] = [
  { name: 'null', input: null, code: 'SbomUnsupported', path: documentPath },
  { name: 'a number', input: 42, code: 'SbomUnsupported', path: documentPath },
  { name: 'an array', input: [], code: 'SbomUnsupported', path: documentPath },
  {
    name: 'an object without spdxVersion or bomFormat',
    input: { name: 'x' },
    code: 'SbomUnsupported',
    path: documentPath,
  },
  {
    name: 'an in-toto statement (not the predicate)',
    input: { _type: 'https://in-toto.io/Statement/v1', predicate: {} },
    code: 'SbomUnsupported',
    path: documentPath,
  },
  {
    name: 'SPDX 3 JSON-LD',
    input: { '@context': 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld', '@graph': [] },
    code: 'SbomUnsupported',
    path: '@context',
  },
  { name: 'a JSON string of an array', input: '[1, 2]', code: 'SbomUnsupported', path: documentPath },
  {
    name: 'a JSON string of a JSON string (no double decoding)',
    input: JSON.stringify('{"bomFormat":"CycloneDX"}'),
    code: 'SbomUnsupported',
    path: documentPath,
  },
  { name: 'text that is not JSON', input: 'bogus!', code: 'SbomInvalid', path: documentPath },
  {
    name: 'SPDX tag-value text',
    input: 'SPDXVersion: SPDX-2.2\nDataLicense: CC0-1.0\n',
    code: 'SbomUnsupported',
    path: documentPath,
  },
];

/** The corpus SBOMs of more than 250 components: the ones that matter for event-loop blocking. */
const largeCases = ['SBOM--keycloak-10.0.2', 'cdx-python', 'spdx-vault', 'big-mongo-cyclonedx'];

describe('sbom/parse: detection and entry points', () => {
  describe('rejects what is not an SBOM Sigwatch reads', () => {
    for (const row of unsupportedValues) {
      it(`${row.name} → ${row.code} at ${row.path}`, () => {
        expectRejected(outcomeOf(row.input), row.code, row.path);
      });
    }
  });

  describe('cosign predicate shapes of the same document', () => {
    const text = caseSbomText(sbomCases().find((c) => c.id === 'spdx_vuln') ?? expect.fail('case missing'));
    const fromObject = parseSbom(JSON.parse(text));

    it('spdx: the document as a JSON string parses like the object (spdxjson)', () => {
      expect(parseSbom(text)).to.deep.equal(fromObject);
    });
    it('parseSbomText is the same as parseSbom of the text', () => {
      expect(parseSbomText(text)).to.deep.equal(fromObject);
    });
    it('outcome helper reports an SbomError, not a crash, for empty text', () => {
      expectRejected(outcome(''), 'SbomInvalid');
    });
  });
});

describe('sbom/parse: parseSbomAsync', () => {
  const cases = sbomCases();

  for (const id of largeCases) {
    const testCase = cases.find((c) => c.id === id) ?? expect.fail(`case ${id} missing`);
    const json: unknown = JSON.parse(caseSbomText(testCase));
    const sync = parseSbom(json);

    it(`${id}: yields once per ${String(defaultChunkSize)} components (${String(sync.components.length)} components)`, async () => {
      const fake = countingYield();
      const result = await parseSbomAsync(json, { yieldControl: fake.yieldControl });
      expect(fake.count()).to.equal(Math.floor(sync.components.length / defaultChunkSize));
      expect(fake.count()).to.be.greaterThan(1);
      expect(result).to.deep.equal(sync);
    });
  }

  it('honours chunkSize', async () => {
    const json: unknown = JSON.parse(
      caseSbomText(cases.find((c) => c.id === 'cdx-nginx') ?? expect.fail('missing')),
    );
    const fake = countingYield();
    await parseSbomAsync(json, { chunkSize: 10, yieldControl: fake.yieldControl });
    expect(fake.count()).to.equal(14); // 144 components
  });

  it('rejects with signal.reason once aborted between chunks', async () => {
    const json: unknown = JSON.parse(
      caseSbomText(cases.find((c) => c.id === 'spdx-vault') ?? expect.fail('missing')),
    );
    const controller = new AbortController();
    const reason = new Error('shutdown');
    let yields = 0;
    const parsing = parseSbomAsync(json, {
      signal: controller.signal,
      yieldControl: () => {
        yields += 1;
        controller.abort(reason);
        return Promise.resolve();
      },
    });
    const settled = await parsing.then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
    expect(settled).to.equal(reason);
    expect(yields).to.equal(1);
  });

  it('rejects at once for an already aborted signal, before reading the document', async () => {
    const reason = new Error('gone');
    const settled = await parseSbomAsync(null, {
      signal: AbortSignal.abort(reason),
      yieldControl: () => Promise.resolve(),
    }).then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
    expect(settled).to.equal(reason);
  });

  it('rejects with the SbomError of an invalid component found part-way', async () => {
    const components = Array.from({ length: 250 }, (_, i) => ({ type: 'library', name: `c${String(i)}` }));
    components.push({ type: 'library' } as unknown as (typeof components)[number]);
    const settled = await parseSbomAsync(
      { bomFormat: 'CycloneDX', specVersion: '1.6', components },
      { yieldControl: () => Promise.resolve() },
    ).then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error,
    );
    expectRejected(settled, 'SbomInvalid', 'components[250].name');
  });
});
