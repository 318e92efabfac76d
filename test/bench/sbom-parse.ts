/**
 * SBOM parsing and the event loop: the largest corpus SBOM (keycloak, 903
 * components, 2.2 MB) and a generated 20,000-component CycloneDX document,
 * parsed in one go (`parseSbom`) and in chunks (`parseSbomAsync` yielding
 * with setImmediate), reporting parse time and the longest event-loop block
 * seen meanwhile (perf_hooks' event-loop delay histogram).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseSbom, parseSbomAsync } from '../../src/sbom/parse.js';
import { testdataUrl } from '../support/testdata.js';
import { median } from './stats.js';

export interface SbomParseRow {
  readonly name: string;
  readonly components: number;
  readonly syncMedianMs: number;
  readonly asyncMedianMs: number;
  /** Longest event-loop block during the chunked parse (ms, p100 of the delay histogram). */
  readonly asyncMaxBlockMs: number;
  /** Longest block during the one-go parse, measured the same way. */
  readonly syncMaxBlockMs: number;
}

const yieldControl = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function generated(n: number): unknown {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    metadata: { timestamp: '2026-01-01T00:00:00Z', component: { type: 'container', name: 'generated' } },
    components: Array.from({ length: n }, (_, i) => ({
      type: 'library',
      name: `lib-${String(i)}`,
      version: `1.${String(i % 50)}.${String(i % 7)}`,
      purl: `pkg:npm/lib-${String(i)}@1.${String(i % 50)}.${String(i % 7)}`,
      licenses: [{ license: { id: 'MIT' } }],
    })),
  };
}

async function maxBlock(work: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  // Let the monitor's timer start first, or a synchronous block goes unseen.
  await new Promise((resolve) => setTimeout(resolve, 5));
  await work();
  // One more turn so the last block is recorded.
  await new Promise((resolve) => setTimeout(resolve, 5));
  h.disable();
  return h.max / 1e6;
}

async function measure(name: string, doc: unknown, samples: number): Promise<SbomParseRow> {
  const sync: number[] = [];
  const asyncTimes: number[] = [];
  const syncBlocks: number[] = [];
  const asyncBlocks: number[] = [];
  let components = 0;
  for (let i = 0; i < samples; i++) {
    syncBlocks.push(
      await maxBlock(() => {
        const t0 = performance.now();
        components = parseSbom(doc).components.length;
        sync.push(performance.now() - t0);
        return Promise.resolve();
      }),
    );
    asyncBlocks.push(
      await maxBlock(async () => {
        const t0 = performance.now();
        await parseSbomAsync(doc, { yieldControl });
        asyncTimes.push(performance.now() - t0);
      }),
    );
  }
  return {
    name,
    components,
    syncMedianMs: median(sync),
    asyncMedianMs: median(asyncTimes),
    syncMaxBlockMs: median(syncBlocks),
    asyncMaxBlockMs: median(asyncBlocks),
  };
}

export interface SbomParseResult {
  readonly rows: SbomParseRow[];
  /** JSON.parse of the keycloak text alone: one block no chunking can split. */
  readonly jsonParseMs: number;
}

export async function sbomParseBench(samples: number): Promise<SbomParseResult> {
  const text = readFileSync(testdataUrl('cyclonedx-bom-examples/SBOM--keycloak-10.0.2/bom.json'), 'utf8');
  const parses: number[] = [];
  let keycloak: unknown;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    keycloak = JSON.parse(text);
    parses.push(performance.now() - t0);
  }
  const rows = [
    await measure('keycloak-10.0.2 (corpus)', keycloak, samples),
    await measure('generated', generated(20_000), samples),
  ];
  return { rows, jsonParseMs: median(parses) };
}
