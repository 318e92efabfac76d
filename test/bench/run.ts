/**
 * `npm run bench`: Sigwatch against its baselines, in the same run.
 *
 * 1. The command line against cosign (cli-verify.ts): `sigwatch --help`
 *    start-up (target ≤ 80 ms), then the first verification of N distinct
 *    signed images (N = 1, 10, 100; BENCH_N) from the loopback registry,
 *    `cosign verify --key … --insecure-ignore-tlog` over the N images in ONE
 *    invocation versus `sigwatch verify --key …` doing the same checks; new
 *    processes, fresh token caches, median and p95 of SAMPLES runs (default
 *    5), registry requests per image counted by a proxy (targets: N = 1 ≤ 1.5×
 *    cosign's time, N = 100 ≥ 2× faster).
 * 2. CPU cost of one Sigstore bundle verification, in process.
 * 3. SBOM parsing and event-loop blocks.
 * 4. Re-evaluating 1,000 digests × 20 policies after a policy edit, from
 *    cached evidence (target p95 ≤ 200 ms), against the first evaluation.
 * 5. The controller at cluster scale: 10,000 pods / 1,000 signed and attested
 *    digests — a policy edit (< 1 s, 0 registry requests), a steady-state
 *    refresh (≤ 4 requests per digest, no manifest or blob GETs), RSS (< 200 MiB).
 * 6. `--policy-reports` at 10,000 pods over 10, 100 and 1,000 namespaces:
 *    building the reports against the ImagePolicy status over the same
 *    results, and writes and bytes per change against rewriting every report.
 * 7. The admission webhook of `sigwatch run` at a steady request rate: a
 *    digest already judged (target p99 < 25 ms, ≥ 500 requests/s) and a new
 *    signed digest per request against one `cosign verify` of each image.
 *    A missed admission or command-line target is printed as `TARGET MISSED`
 *    and makes the run exit with 1.
 *
 * BENCH_ONLY=admission,verify,… runs only the named parts (verify, bundle,
 * sbom, reevaluate, scale, memory, reports, admission); the JSON line holds
 * only what ran. Prints a table and one JSON line (`BENCH_JSON …`) for tracking.
 */
import { generateKeyPair } from '../support/cosign.js';
import { startTestEnv, stopTestEnv } from '../support/testenv.js';
import {
  admissionBench,
  defaultAdmissionOptions,
  type AdmissionBenchOptions,
  type AdmissionBenchResult,
} from './admission.js';
import { admissionLines } from './admission-report.js';
import { bundleCpuCost } from './bundle-cpu.js';
import {
  cliLines,
  cliTargets,
  startupBench,
  verifyBench,
  type CliTarget,
  type VerifyRow,
} from './cli-verify.js';
import {
  defaultVariants,
  operatorMemoryBench,
  type MemoryFigures,
  type MemoryVariant,
} from './operator-memory.js';
import { operatorScaleBench, pushScaleImages } from './operator-scale.js';
import { policyReportBench } from './policy-reports.js';
import { reEvaluateBench } from './re-evaluate.js';
import { sbomParseBench } from './sbom-parse.js';
import { environment, ms } from './stats.js';

const samples = Number(process.env['SAMPLES'] ?? 5);
const sizes = (process.env['BENCH_N'] ?? '1,10,100').split(',').map(Number);
const parts = ['verify', 'bundle', 'sbom', 'reevaluate', 'scale', 'memory', 'reports', 'admission'] as const;
type Part = (typeof parts)[number];
const only = process.env['BENCH_ONLY']?.split(',').map((p) => p.trim());
for (const p of only ?? [])
  if (!(parts as readonly string[]).includes(p))
    throw new Error(`BENCH_ONLY: unknown part ${p} (parts: ${parts.join(', ')})`);
const wanted = (part: Part): boolean => only === undefined || only.includes(part);

/** BENCH_ADMISSION_RATE, _SECONDS, _HEADROOM_RATE, _NEW (digests), _NEW_RATE override the admission benchmark's defaults. */
function admissionOptions(): AdmissionBenchOptions {
  const d = defaultAdmissionOptions;
  const n = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
  return {
    rate: n('BENCH_ADMISSION_RATE', d.rate),
    seconds: n('BENCH_ADMISSION_SECONDS', d.seconds),
    warmupSeconds: d.warmupSeconds,
    headroomRate: n('BENCH_ADMISSION_HEADROOM_RATE', d.headroomRate),
    newDigests: n('BENCH_ADMISSION_NEW', d.newDigests),
    newRate: n('BENCH_ADMISSION_NEW_RATE', d.newRate),
  };
}

const out = (text: string): void => {
  process.stdout.write(text);
};

function printSboms(sboms: Awaited<ReturnType<typeof sbomParseBench>>): void {
  out('\nSBOM parsing: one go (parseSbom) vs chunked (parseSbomAsync, setImmediate every 100 components)\n');
  out('  document                   components  one go (longest block)   chunked (longest block)\n');
  for (const r of sboms.rows) {
    out(
      `  ${r.name.padEnd(26)} ${String(r.components).padStart(10)}  ${`${ms(r.syncMedianMs)} (${ms(r.syncMaxBlockMs)})`.padEnd(23)}  ${ms(r.asyncMedianMs)} (${ms(r.asyncMaxBlockMs)})\n`,
    );
  }
  out(`  (JSON.parse of the 2.2 MB keycloak text itself: ${ms(sboms.jsonParseMs)}, one block)\n`);
}

function printEvaluation(evaluation: ReturnType<typeof reEvaluateBench>): void {
  out(
    `\nre-evaluation after a policy edit: ${String(evaluation.digests)} digests × ${String(evaluation.policies)} policies, ${String(evaluation.componentsPerSbom)}-component signed SBOMs, cached evidence\n`,
  );
  out(
    `  first evaluation (verify + parse + rules) ${ms(evaluation.coldMs)}; re-evaluation median ${ms(evaluation.reEvaluateMedianMs)}, p95 ${ms(evaluation.reEvaluateP95Ms)} over ${String(evaluation.rounds)} edits (${(evaluation.coldMs / evaluation.reEvaluateP95Ms).toFixed(1)}× faster than the first; target p95 ≤ 200 ms) — ${environment()}\n`,
  );
}

function printScale(scale: Awaited<ReturnType<typeof operatorScaleBench>>): void {
  out(
    `\ncontroller at scale: ${String(scale.pods)} pods, ${String(scale.digests)} signed digests with ${String(scale.componentsPerSbom)}-component SBOM attestations, via a counting proxy\n`,
  );
  out(
    `  first judgement of every pod (all evidence fetched) ${ms(scale.firstJudgementMs)}; policy edit re-judges every pod in ${ms(scale.policyEditMs)} with ${String(scale.policyEditRequests)} registry requests (target < 1 s, 0)\n`,
  );
  out(
    `  steady-state refresh: ${scale.steadyRequestsPerDigest.toFixed(1)} requests per digest, ${String(scale.steadyManifestOrBlobGets)} manifest/blob GETs (target ≤ 4, 0)\n`,
  );
  out(
    `  inventory query over every pod (signed SBOMs in memory): p50 ${ms(scale.inventoryP50Ms)}, p99 ${ms(scale.inventoryP99Ms)} over ${String(scale.inventoryQueries)} queries, median ${String(scale.inventoryMedianHits)} pods in range (target p99 < 50 ms)\n`,
  );
}

/**
 * BENCH_MEMORY_VARIANTS: a JSON array of `{ mode, nodeOptions?, env? }`
 * (e.g. to try V8 flags or MALLOC_ARENA_MAX); default kubeconfig against in-cluster.
 */
function memoryVariants(): readonly MemoryVariant[] {
  const text = process.env['BENCH_MEMORY_VARIANTS'];
  if (text === undefined) return defaultVariants;
  const parsed = JSON.parse(text) as unknown;
  const valid = (v: unknown): v is MemoryVariant => {
    const o = v as Partial<Record<keyof MemoryVariant, unknown>> | null;
    return (
      typeof o === 'object' &&
      o !== null &&
      (o.mode === 'kubeconfig' || o.mode === 'in-cluster') &&
      (o.nodeOptions === undefined ||
        (Array.isArray(o.nodeOptions) && o.nodeOptions.every((f) => typeof f === 'string'))) &&
      (o.env === undefined ||
        (typeof o.env === 'object' &&
          o.env !== null &&
          Object.values(o.env).every((x) => typeof x === 'string')))
    );
  };
  if (!Array.isArray(parsed) || !parsed.every(valid))
    throw new Error(
      'BENCH_MEMORY_VARIANTS: want [{ "mode": "kubeconfig" | "in-cluster", "nodeOptions"?: [..], "env"?: {..} }]',
    );
  return parsed;
}

function printMemory(memory: Awaited<ReturnType<typeof operatorMemoryBench>>): void {
  out(
    `\nsigwatch run (dist/, own process) with ${String(memory.pods)} Running pods on the API server, ${String(memory.digests)} digests, ${String(memory.componentsPerSbom)}-component SBOMs, Audit policy (targets: < 200 MiB RSS judged, < 90 MiB idle)\n`,
  );
  const mib = (n: number): string => `${n.toFixed(0)} MiB`;
  const row = (f: MemoryFigures): string =>
    `RSS ${mib(f.rssMiB)} (JS heap used ${mib(f.heapUsedMiB)}, reserved ${mib(f.heapTotalMiB)}; external ${mib(f.externalMiB)}, of it array buffers ${mib(f.arrayBuffersMiB)})`;
  for (const r of memory.runs) {
    const flags = [...r.nodeOptions, ...Object.entries(r.env).map(([k, v]) => `${k}=${v}`)].join(' ');
    out(`  ${r.mode}${flags === '' ? '' : ` ${flags}`}:\n`);
    out(`    idle, no pods: ${row(r.idle)}\n`);
    out(
      `    every pod judged after ${ms(r.judgedAfterMs)} (RSS at most ${mib(r.peakRssMiB)} meanwhile), then 30 s idle: ${row(r.judged)}\n`,
    );
  }
}

function printReports(reports: Awaited<ReturnType<typeof policyReportBench>>): void {
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
  out(
    `\n--policy-reports: ${String(reports.pods)} pods (85 % pass, 10 % fail, 5 % error), one PolicyReport per namespace, writes paced at --kube-qps 20\n`,
  );
  for (const r of reports.rows) {
    out(
      `  ${String(r.namespaces)} namespaces: building every report ${ms(r.buildMedianMs)} (p95 ${ms(r.buildP95Ms)}) vs the ImagePolicy status over the same results ${ms(r.statusMedianMs)} (${(r.buildMedianMs / r.statusMedianMs).toFixed(1)}×); first publication ${String(r.firstWrites)} writes, ${kib(r.firstBytes)}, ${ms(r.firstMs)}; largest report ${kib(r.largestReportBytes)}, ${String(r.omittedResults)} results omitted\n`,
    );
    out(
      `    one change ${String(r.changeWrites)} write, ${kib(r.changeBytes)}, ${ms(r.changeMs)} (rewriting every report: ${String(r.firstWrites)} writes, ${kib(r.firstBytes)}); ${String(r.burstChanges)} changes ${String(r.burstWrites)} writes, ${kib(r.burstBytes)}; a new leader's resync ${String(r.resyncWrites)} writes in ${ms(r.resyncMs)}\n`,
    );
  }
}

async function main(): Promise<void> {
  out(`Sigwatch benchmarks — ${environment()}, ${String(samples)} samples\n\n`);
  const env = await startTestEnv();
  const json: Record<string, unknown> = { env: environment(), samples };
  let admission: AdmissionBenchResult | undefined;
  let cli: CliTarget[] = [];
  try {
    const key = await generateKeyPair();
    if (wanted('verify')) {
      const startup = await startupBench(samples * 4);
      const rows: VerifyRow[] = [];
      for (const n of sizes) rows.push(await verifyBench(env.registry, key, n, samples));
      for (const line of cliLines(startup, rows)) out(`${line}\n`);
      json['startup'] = startup;
      json['verify'] = rows;
      cli = cliTargets(startup, rows);
    }
    if (wanted('sbom')) {
      const sboms = await sbomParseBench(samples);
      printSboms(sboms);
      json['sbomParse'] = sboms;
    }
    if (wanted('reevaluate')) {
      const evaluation = reEvaluateBench(Math.max(20, samples * 4));
      printEvaluation(evaluation);
      json['reEvaluate'] = evaluation;
    }
    const scaleImages = wanted('scale') || wanted('memory') ? await pushScaleImages(env.registry) : undefined;
    if (scaleImages !== undefined && wanted('scale')) {
      const scale = await operatorScaleBench(scaleImages, env.kubeconfig);
      printScale(scale);
      json['operatorScale'] = scale;
    }
    if (scaleImages !== undefined && wanted('memory')) {
      const memory = await operatorMemoryBench(scaleImages, env.kubeconfig, memoryVariants());
      printMemory(memory);
      json['operatorMemory'] = memory;
    }
    if (wanted('reports')) {
      const reports = await policyReportBench(env.kubeconfig, samples);
      printReports(reports);
      json['policyReports'] = reports;
    }
    if (wanted('admission')) {
      admission = await admissionBench(env.registry, env.kubeconfig, admissionOptions());
      for (const line of admissionLines(admission)) out(`${line}\n`);
      json['admission'] = admission;
    }
    if (wanted('bundle')) {
      const cpu = await bundleCpuCost(env.registry, key);
      out(
        `\none bundle verification, in process: ${cpu.perOpUs.toFixed(0)} µs CPU per verification (median of ${String(cpu.ops)} ops)\n`,
      );
      json['bundleCpuUs'] = cpu.perOpUs;
    }
    out(`BENCH_JSON ${JSON.stringify(json)}\n`);
  } finally {
    await stopTestEnv(env);
  }
  const missed = [...cli, ...(admission?.targets ?? [])].filter((t) => !t.met);
  if (missed.length > 0) {
    out(
      `\nTARGET MISSED (${String(missed.length)}): ${missed.map((t) => `${t.name} — ${t.detail}`).join('; ')}\n`,
    );
    process.exitCode = 1;
  }
}

await main();
