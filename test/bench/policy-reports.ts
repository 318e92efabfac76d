/**
 * The cost of `--policy-reports` at 10,000 pods (issue 16): one PolicyReport
 * per namespace, for N namespaces, against the test API server with the
 * upstream CRD (test/fixtures/kyverno-crds) and the operator's default write
 * limit (`--kube-qps 20 --kube-burst 40`). Measured:
 *
 * - building every namespace's report from the controller's results (pure),
 *   against a baseline in the same run: computing the ImagePolicy status
 *   over the same results, which the operator already does on every change;
 * - the first publication (every report created): writes, bytes, time;
 * - one verdict change: writes and bytes, against the naive baseline of
 *   rewriting every report (the first publication's writes and bytes);
 * - 100 verdict changes in one debounce window, spread over the namespaces;
 * - a new leader's resync of unchanged state: writes (target 0).
 *
 * Results are seeded (1,000 digests, 85 % Compliant, 10 % NonCompliant, 5 %
 * Unknown); one container and one policy per pod.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { compilePolicy, type CompiledPolicy } from '../../src/policy/compile.js';
import {
  KubeHttp,
  RateLimiter,
  type KubeRequest,
  type KubeResponse,
} from '../../src/operator/kube/client.js';
import { kubeConfigConnection } from '../../src/operator/kube/connection.js';
import type { Logger } from '../../src/operator/kube/logger.js';
import type { TrimmedPod } from '../../src/operator/pod.js';
import { buildPolicyReport, type ReportedPod } from '../../src/operator/policy-reports/build.js';
import { PolicyReportWriter } from '../../src/operator/policy-reports/writer.js';
import { PolicyStatusWriter, type ContainerResult } from '../../src/operator/verdicts/policy-status.js';
import { publicGoodTrustedRoot } from '../../src/verify/public-good.js';
import { containerResult } from '../support/container-results.js';
import { applyCrd, freshNamespace } from '../support/kube.js';
import { policyReportCrd } from '../support/policy-report-crd.js';
import { median, quantile } from './stats.js';

export interface PolicyReportRow {
  readonly namespaces: number;
  readonly buildMedianMs: number;
  readonly buildP95Ms: number;
  /** Baseline: the ImagePolicy status over the same results. */
  readonly statusMedianMs: number;
  readonly firstWrites: number;
  readonly firstBytes: number;
  readonly firstMs: number;
  readonly largestReportBytes: number;
  /** Results left out of the reports to keep each within its limits (summed over namespaces). */
  readonly omittedResults: number;
  readonly changeWrites: number;
  readonly changeBytes: number;
  readonly changeMs: number;
  readonly burstChanges: number;
  readonly burstWrites: number;
  readonly burstBytes: number;
  readonly resyncWrites: number;
  readonly resyncMs: number;
}

export interface PolicyReportBenchResult {
  readonly pods: number;
  readonly rows: readonly PolicyReportRow[];
}

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** The operator's client, counting what it sends: writes and their body bytes. */
class CountingKube extends KubeHttp {
  writes = 0;
  bytes = 0;
  largest = 0;
  /** Answers other than 2xx: the writer would retry them, so figures with any are void. */
  refused = 0;
  reset(): void {
    this.writes = 0;
    this.bytes = 0;
  }
  override async send(req: KubeRequest): Promise<KubeResponse> {
    if (req.method !== 'GET') {
      const size = req.body === undefined ? 0 : Buffer.byteLength(JSON.stringify(req.body));
      this.writes++;
      this.bytes += size;
      this.largest = Math.max(this.largest, size);
    }
    const res = await super.send(req);
    if (res.status < 200 || res.status > 299) this.refused++;
    return res;
  }
}

/** A seeded generator (mulberry32): the same pods in every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seededPods(count: number, namespaces: readonly string[]): ReportedPod[] {
  const next = random(16);
  const pods: ReportedPod[] = [];
  for (let i = 0; i < count; i++) {
    const d = i % 1000;
    const digest = `sha256:${d.toString(16).padStart(64, '0')}`;
    const repository = `registry.example/team-${String(d % 40)}/app-${String(d)}`;
    const namespace = namespaces[i % namespaces.length] ?? 'default';
    const pod: TrimmedPod = {
      namespace,
      name: `app-${String(d)}-${String(i).padStart(5, '0')}-x7k2p`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      labels: {},
      annotations: {},
      phase: 'Running',
      deleting: false,
      mirror: false,
      containers: [{ name: 'app', kind: 'container', image: `${repository}:v1.2.3`, state: 'running' }],
      pullSecrets: [],
      serviceAccount: 'default',
    };
    const roll = next();
    pods.push({ pod, results: [verdictResult(repository, digest, roll)], complete: true });
  }
  return pods;
}

function verdictResult(repository: string, digest: string, roll: number): ContainerResult {
  const verdict = roll < 0.85 ? 'Compliant' : roll < 0.95 ? 'NonCompliant' : 'Unknown';
  return containerResult(verdict, {
    image: `${repository}:v1.2.3`,
    digest,
    digestKey: `${repository}@${digest}`,
    ...(verdict === 'Unknown' ? { message: `${repository}: registry did not answer within 30 s` } : {}),
  });
}

function benchPolicy(): CompiledPolicy {
  return compilePolicy(
    {
      name: 'prod-images',
      generation: 1,
      spec: {
        match: { images: ['registry.example/**'] },
        authorities: [
          { name: 'ci', keyless: { issuer: 'https://issuer.example', subject: 'ci@example.com' } },
        ],
      },
    },
    {
      generation: 1,
      publicGood: { root: publicGoodTrustedRoot(), stale: false },
      trustedRoots: new Map(),
      secretKeys: new Map(),
    },
  );
}

function buildAll(byNamespace: ReadonlyMap<string, ReportedPod[]>): number {
  let omitted = 0;
  const now = new Date();
  for (const [ns, pods] of byNamespace) {
    const annotation = buildPolicyReport(ns, pods, new Map(), now).report?.metadata.annotations;
    omitted += Number(annotation?.['sigwatch.dev/results-omitted'] ?? 0);
  }
  return omitted;
}

async function timed(f: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await f();
  return performance.now() - t0;
}

async function benchNamespaces(
  kubeconfig: string,
  pods: number,
  namespaceCount: number,
  samples: number,
): Promise<PolicyReportRow> {
  const namespaces: string[] = [];
  for (let i = 0; i < namespaceCount; i++) namespaces.push(await freshNamespace('bench-polr'));
  const all = seededPods(pods, namespaces);
  const byNamespace = new Map<string, ReportedPod[]>();
  for (const p of all) {
    const list = byNamespace.get(p.pod.namespace) ?? [];
    list.push(p);
    byNamespace.set(p.pod.namespace, list);
  }

  // Pure: every report built, against the ImagePolicy status over the same results.
  const status = new PolicyStatusWriter({
    // Never called: mayWrite is false.
    kube: new KubeHttp({ server: 'https://127.0.0.1:1', authorize: () => Promise.resolve() }),
    logger: quiet,
    mayWrite: () => false,
    debounceMs: 3_600_000,
    now: () => new Date(),
  });
  for (const p of all) status.setPodResults(`${p.pod.namespace}/${p.pod.name}`, p.results);
  const policy = benchPolicy();
  const build: number[] = [];
  const statusMs: number[] = [];
  let omittedResults = 0;
  for (let i = 0; i < samples + 1; i++) {
    const t0 = performance.now();
    omittedResults = buildAll(byNamespace);
    const t1 = performance.now();
    status.compute(policy);
    const t2 = performance.now();
    if (i === 0) continue; // warm-up
    build.push(t1 - t0);
    statusMs.push(t2 - t1);
  }
  status.stop();

  // Against the API server, paced as the operator's writes are.
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const kube = new CountingKube(kubeConfigConnection(kc), new RateLimiter(20, 40), 'sigwatch-bench');
  const writer = (): PolicyReportWriter =>
    new PolicyReportWriter({ kube, logger: quiet, mayWrite: () => true, debounceMs: 3_600_000 });
  const first = writer();
  const feed = (w: PolicyReportWriter, pod: ReportedPod): void => {
    w.setPod(`${pod.pod.namespace}/${pod.pod.name}`, pod.pod, pod.results, true);
  };
  first.resync();
  for (const p of all) feed(first, p);
  const firstMs = await timed(() => first.flush());
  const firstWrites = kube.writes;
  const firstBytes = kube.bytes;
  const largestReportBytes = kube.largest;

  // One pod turns NonCompliant (its digest lost its signature).
  const flip = (p: ReportedPod, verdict: ContainerResult['verdict']): ReportedPod => ({
    ...p,
    results: p.results.map((r) =>
      containerResult(verdict, { image: r.image, digest: r.digest, digestKey: r.digestKey }),
    ),
  });
  const compliant = all.filter((p) => p.results[0]?.verdict === 'Compliant');
  kube.reset();
  const changed = compliant[0];
  if (changed === undefined) throw new Error('no compliant pod');
  feed(first, flip(changed, 'NonCompliant'));
  const changeMs = await timed(() => first.flush());
  const changeWrites = kube.writes;
  const changeBytes = kube.bytes;

  // 100 more in one debounce window, spread over the namespaces.
  kube.reset();
  const burst = compliant.slice(1, 101);
  for (const p of burst) feed(first, flip(p, 'NonCompliant'));
  await first.flush();
  const burstWrites = kube.writes;
  const burstBytes = kube.bytes;
  first.stop();

  // A new leader with the same state: lists, compares, writes nothing.
  const second = writer();
  const current = new Map(all.map((p) => [p.pod.name, p]));
  for (const p of [changed, ...burst]) current.set(p.pod.name, flip(p, 'NonCompliant'));
  for (const p of current.values()) feed(second, p);
  kube.reset();
  second.resync();
  const resyncMs = await timed(() => second.flush());
  const resyncWrites = kube.writes;
  // Every pod gone: every report deleted (and the next row starts from an empty API server).
  for (const p of current.values()) second.setPod(`${p.pod.namespace}/${p.pod.name}`, undefined, [], true);
  kube.reset();
  await second.flush();
  const deleteWrites = kube.writes;
  second.stop();
  if (kube.refused > 0 || firstWrites !== namespaceCount || deleteWrites !== namespaceCount)
    throw new Error(
      `policy report bench: ${String(kube.refused)} refused requests, ${String(firstWrites)} creates and ${String(deleteWrites)} deletes for ${String(namespaceCount)} namespaces`,
    );

  return {
    namespaces: namespaceCount,
    buildMedianMs: median(build),
    buildP95Ms: quantile(build, 0.95),
    statusMedianMs: median(statusMs),
    firstWrites,
    firstBytes,
    firstMs,
    largestReportBytes,
    omittedResults,
    changeWrites,
    changeBytes,
    changeMs,
    burstChanges: burst.length,
    burstWrites,
    burstBytes,
    resyncWrites,
    resyncMs,
  };
}

export async function policyReportBench(
  kubeconfig: string,
  samples: number,
  pods = 10_000,
  namespaceCounts: readonly number[] = [10, 100, 1000],
): Promise<PolicyReportBenchResult> {
  await applyCrd(policyReportCrd());
  // A CRD just established answers 429 ("storage is (re)initializing") for a moment; the writer would retry.
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const probe = new KubeHttp(kubeConfigConnection(kc));
  for (let i = 0; ; i++) {
    const res = await probe.send({
      method: 'GET',
      path: '/apis/wgpolicyk8s.io/v1alpha2/policyreports?limit=1',
    });
    if (res.status === 200) break;
    if (i > 100) throw new Error(`PolicyReports not served: ${String(res.status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const rows: PolicyReportRow[] = [];
  for (const n of namespaceCounts) rows.push(await benchNamespaces(kubeconfig, pods, n, samples));
  return { pods, rows };
}
