/**
 * The `sigwatch` command line against `cosign`, both as the user runs them:
 * a new process per command, the installed CLI (`node dist/main.js`, what
 * package.json's `bin` and the image's entry point run), cosign's Go binary.
 *
 * 1. Start-up: `sigwatch --help` against `cosign --help`, median of SAMPLES × 4
 *    runs. Sigwatch twice: with an empty compile cache (the first run after an
 *    install or upgrade) and with the cache the first run left (every later
 *    run; the target, ≤ 80 ms, is for this one).
 * 2. First verification of N distinct images signed by cosign v3 (bundle
 *    format, key, no transparency log) in the loopback registry: one
 *    `cosign verify --key … --insecure-ignore-tlog` over the N images versus
 *    one `sigwatch verify --key …` doing the same checks, median and p95 of
 *    SAMPLES runs, in turn, plus the registry requests per image counted by a
 *    proxy. Targets: N = 1 no slower than 1.5× cosign, N = 100 at least 2×
 *    faster. The same checks in an already running process (the operator's
 *    situation) are printed beside them.
 *
 * Trade-off: both tools talk to the registry through the counting proxy, which
 * runs in this process and shares the two cores; it costs both the same.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sign, type CosignKey } from '../support/cosign.js';
import { startCountingProxy } from '../support/counting-proxy.js';
import { pushRandomImage, randomRepo } from '../support/images.js';
import { verifyInProcess } from './in-process.js';
import { median, ms, quantile } from './stats.js';

const run = promisify(execFile);
const sigwatchBin = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Wall time of one run of `file args` in a new process; a failure (exit ≠ 0) throws. */
async function time(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  await run(file, [...args], { maxBuffer: 64 << 20, timeout: 600_000, env: env ?? process.env });
  return performance.now() - t0;
}

export interface StartupResult {
  readonly runs: number;
  readonly cosignMedianMs: number;
  /** Empty compile cache before every run. */
  readonly sigwatchColdCacheMedianMs: number;
  /** The compile cache as the first run left it. */
  readonly sigwatchMedianMs: number;
  readonly sigwatchP95Ms: number;
  readonly nodeBareMedianMs: number;
}

export const startupTargetMs = 80;

/** `--help` of both tools, interleaved so that load on the machine hits all alike. */
export async function startupBench(runs: number): Promise<StartupResult> {
  const cacheDir = await mkdtemp(join(tmpdir(), 'sigwatch-bench-cache-'));
  const withCache = { ...process.env, NODE_COMPILE_CACHE: cacheDir };
  try {
    const c: number[] = [];
    const cold: number[] = [];
    const warm: number[] = [];
    const bare: number[] = [];
    await time(process.execPath, [sigwatchBin, '--help'], withCache); // fills the cache
    for (let i = 0; i < runs; i++) {
      c.push(await time('cosign', ['--help']));
      const empty = await mkdtemp(join(tmpdir(), 'sigwatch-bench-cold-'));
      cold.push(
        await time(process.execPath, [sigwatchBin, '--help'], { ...process.env, NODE_COMPILE_CACHE: empty }),
      );
      await rm(empty, { recursive: true, force: true });
      warm.push(await time(process.execPath, [sigwatchBin, '--help'], withCache));
      bare.push(await time(process.execPath, ['-e', '0']));
    }
    return {
      runs,
      cosignMedianMs: median(c),
      sigwatchColdCacheMedianMs: median(cold),
      sigwatchMedianMs: median(warm),
      sigwatchP95Ms: quantile(warm, 0.95),
      nodeBareMedianMs: median(bare),
    };
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
}

export interface VerifyRow {
  readonly n: number;
  readonly cosignMedianMs: number;
  readonly cosignP95Ms: number;
  readonly sigwatchMedianMs: number;
  readonly sigwatchP95Ms: number;
  /** cosign's median over Sigwatch's: above 1, Sigwatch is faster. */
  readonly speedup: number;
  /** The same checks in an already running process (the operator's situation): no start-up. */
  readonly warmMedianMs: number;
  readonly requestsPerImage: number;
  readonly cosignRequestsPerImage: number;
}

/** Pushes and signs `n` images, then times both tools over all of them, `samples` times each. */
export async function verifyBench(
  registry: string,
  key: CosignKey,
  n: number,
  samples: number,
): Promise<VerifyRow> {
  const repo = randomRepo('bench');
  const refs: string[] = [];
  for (let i = 0; i < n; i++) {
    const img = await pushRandomImage(registry, `${repo}/img${String(i)}`, { layers: 1, layerBytes: 1024 });
    await sign(img.ref, key, 'bundle');
    refs.push(img.ref);
  }
  const proxy = await startCountingProxy(registry);
  const viaProxy = refs.map((r) => r.replace(registry, proxy.address));
  // The installed CLI's steady state: a compile cache a first run filled (it is filled below, untimed).
  const cacheDir = await mkdtemp(join(tmpdir(), 'sigwatch-bench-cache-'));
  const env = { ...process.env, NODE_COMPILE_CACHE: cacheDir };
  try {
    const cosignArgs = [
      'verify',
      '--key',
      key.pub,
      '--insecure-ignore-tlog',
      '--allow-http-registry',
      ...viaProxy,
    ];
    const sigwatchArgs = [
      sigwatchBin,
      'verify',
      '--key',
      key.pub,
      '--insecure-registry',
      proxy.address,
      '-o',
      'json',
      ...viaProxy,
    ];
    await time(process.execPath, sigwatchArgs, env);
    const c: number[] = [];
    const s: number[] = [];
    const w: number[] = [];
    let cosignRequests = 0;
    let sigwatchRequests = 0;
    for (let i = 0; i < samples; i++) {
      proxy.reset();
      c.push(await time('cosign', cosignArgs));
      cosignRequests = proxy.requests.length;
      proxy.reset();
      s.push(await time(process.execPath, sigwatchArgs, env));
      sigwatchRequests = proxy.requests.length;
      w.push(await verifyInProcess(proxy.address, viaProxy, key));
    }
    return {
      n,
      cosignMedianMs: median(c),
      cosignP95Ms: quantile(c, 0.95),
      sigwatchMedianMs: median(s),
      sigwatchP95Ms: quantile(s, 0.95),
      speedup: median(c) / median(s),
      warmMedianMs: median(w),
      requestsPerImage: sigwatchRequests / n,
      cosignRequestsPerImage: cosignRequests / n,
    };
  } finally {
    await proxy.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}

export interface CliTarget {
  readonly name: string;
  readonly met: boolean;
  readonly detail: string;
}

/** The issue's targets: start-up ≤ 80 ms, N = 1 ≤ 1.5× cosign, N = 100 ≥ 2× faster than cosign. */
export function cliTargets(startup: StartupResult | undefined, rows: readonly VerifyRow[]): CliTarget[] {
  const targets: CliTarget[] = [];
  if (startup !== undefined) {
    targets.push({
      name: 'sigwatch --help ≤ 80 ms',
      met: startup.sigwatchMedianMs <= startupTargetMs,
      detail: ms(startup.sigwatchMedianMs),
    });
  }
  const one = rows.find((r) => r.n === 1);
  if (one !== undefined) {
    const ratio = one.sigwatchMedianMs / one.cosignMedianMs;
    targets.push({
      name: 'verify N = 1 ≤ 1.5× cosign',
      met: ratio <= 1.5,
      detail: `${ratio.toFixed(2)}× cosign's time`,
    });
  }
  const hundred = rows.find((r) => r.n === 100);
  if (hundred !== undefined) {
    targets.push({
      name: 'verify N = 100 ≥ 2× faster than cosign',
      met: hundred.speedup >= 2,
      detail: `${hundred.speedup.toFixed(2)}× faster`,
    });
  }
  return targets;
}

/** The table `npm run bench` prints for this part. */
export function cliLines(startup: StartupResult | undefined, rows: readonly VerifyRow[]): string[] {
  const lines: string[] = [];
  if (startup !== undefined) {
    lines.push(
      `start-up, median of ${String(startup.runs)} new processes: sigwatch --help ${ms(startup.sigwatchMedianMs)} (p95 ${ms(startup.sigwatchP95Ms)}; empty compile cache ${ms(startup.sigwatchColdCacheMedianMs)}), cosign --help ${ms(startup.cosignMedianMs)}, node -e 0 ${ms(startup.nodeBareMedianMs)}`,
    );
  }
  lines.push('first verification of N signed images (bundle format, key, no tlog), new processes');
  lines.push(
    '    N  cosign median (p95)     sigwatch median (p95)   speedup  warm process  requests/image sigwatch (cosign)',
  );
  for (const r of rows) {
    lines.push(
      `${String(r.n).padStart(5)}  ${`${ms(r.cosignMedianMs)} (${ms(r.cosignP95Ms)})`.padEnd(22)}  ${`${ms(r.sigwatchMedianMs)} (${ms(r.sigwatchP95Ms)})`.padEnd(22)}  ${r.speedup.toFixed(2).padStart(5)}×  ${ms(r.warmMedianMs).padStart(12)}  ${r.requestsPerImage.toFixed(1)} (${r.cosignRequestsPerImage.toFixed(1)})`,
    );
  }
  for (const t of cliTargets(startup, rows))
    lines.push(`  ${t.met ? 'met   ' : 'MISSED'}  ${t.name}: ${t.detail}`);
  return lines;
}
