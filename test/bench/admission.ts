/**
 * The admission webhook under load (issue 17): AdmissionReview requests at a
 * steady rate, open loop (test/bench/open-loop.ts), against the real HTTPS
 * endpoint of `sigwatch run` from the compiled `dist/`, in its own process,
 * with the test environment's API server and registry (through a counting
 * proxy). The client trusts the webhook CA the operator minted into its
 * Secret and checks every answer. Measured:
 *
 * (a) a digest already judged — a Running pod of it is labelled compliant
 *     first — then Pods (and, once, Deployments) naming it by digest:
 *     p50/p99 and answers per second at the target rate (target p99 < 25 ms,
 *     ≥ 500 requests/s), registry requests meanwhile (expected 0);
 * (b) a new signed digest each request (pushed and signed by the real cosign
 *     before the clock starts, never seen by the operator): p50/p99 of one
 *     admission, against `cosign verify --key … --insecure-ignore-tlog` of
 *     each of the same images, one cold invocation per image, in the same run
 *     (target: no slower, at p50 and at p99).
 *
 * The client, the operator, the API server, etcd and the registry share the
 * machine's cores; the output says how many and how much CPU client and
 * operator used.
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { allCrds } from '../../src/operator/crds/crds.js';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { startCountingProxy } from '../support/counting-proxy.js';
import { generateKeyPair, sign, verifyWithKey } from '../support/cosign.js';
import { pushRandomImage, randomRepo } from '../support/images.js';
import { applyCrd, freshNamespace, kubeConnection } from '../support/kube.js';
import { podMarks, PolicyObjects, runningPod } from '../support/operator-objects.js';
import {
  eventually,
  loopbackWebhookFlags,
  startOperatorProcess,
  type OperatorProcess,
} from '../support/operator-process.js';
import { admissionTargets } from './admission-report.js';
import { admits, reviewBody, type ReviewKind } from './admission-reviews.js';
import {
  keepAliveAgent,
  openLoop,
  openPool,
  type OpenLoopRun,
  type Planned,
  type Target,
} from './open-loop.js';
import { median, metricSum, quantile } from './stats.js';

export interface AdmissionBenchOptions {
  /** Requests per second for a judged digest (default 550: at exactly 500 the last answer lands after 10 s). */
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** A further run of Pods at this rate, without a target: how far the answer is from saturation (0: none). */
  readonly headroomRate: number;
  /** New signed digests, one per request (default 100), and their rate (default 10 per second). */
  readonly newDigests: number;
  readonly newRate: number;
}

/** One open-loop run, with what the operator did meanwhile. */
export interface AdmissionRow extends OpenLoopRun {
  readonly kind: ReviewKind;
  /** The operator's own mean time per validation (its `sigwatch_admission_duration_seconds`). */
  readonly serverMeanMs: number;
  /** The operator process's CPU in % of one core. */
  readonly operatorCpuPercent: number;
  /** Requests the operator sent to the registry during the run. */
  readonly registryRequests: number;
  /** Validations the policy counted as Allow (each request must be judged by it). */
  readonly policyAllows: number;
}

export interface AdmissionTarget {
  readonly name: string;
  readonly met: boolean;
  readonly detail: string;
}

export interface AdmissionBenchResult {
  readonly cores: number;
  readonly judged: readonly AdmissionRow[];
  readonly headroom?: AdmissionRow;
  readonly newDigest: AdmissionRow & {
    readonly cosignMedianMs: number;
    readonly cosignP99Ms: number;
    readonly cosignRequestsPerImage: number;
  };
  readonly targets: readonly AdmissionTarget[];
}

export const defaultAdmissionOptions: AdmissionBenchOptions = {
  rate: 550,
  seconds: 10,
  warmupSeconds: 2,
  headroomRate: 1100,
  newDigests: 100,
  newRate: 10,
};

const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

/** Sockets in the client's pool: the webhook answers at most 64 at once (more get 429). */
const sockets = 64;

interface Scrape {
  readonly validateSeconds: number;
  readonly validations: number;
  readonly cpuSeconds: number;
  readonly allows: number;
}

async function scrape(operator: OperatorProcess, policy: string): Promise<Scrape> {
  const text = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
  const validate = /operation="validate"/;
  return {
    validateSeconds: metricSum(text, 'sigwatch_admission_duration_seconds_sum', validate),
    validations: metricSum(text, 'sigwatch_admission_duration_seconds_count', validate),
    cpuSeconds: metricSum(text, 'process_cpu_seconds_total'),
    allows: metricSum(
      text,
      'sigwatch_admission_requests_total',
      new RegExp(`policy="${policy}",decision="Allow"`),
    ),
  };
}

let uids = 0;
const plan = (kind: ReviewKind, namespace: string, images: readonly string[]): Planned[] =>
  images.map((image) => {
    const uid = `bench-${String(++uids)}`;
    return { body: reviewBody(kind, uid, namespace, image), check: admits(uid) };
  });

export async function admissionBench(
  registry: string,
  kubeconfig: string,
  options: AdmissionBenchOptions = defaultAdmissionOptions,
): Promise<AdmissionBenchResult> {
  for (const crd of allCrds()) await applyCrd(crd);
  const proxy = await startCountingProxy(registry);
  const policies = new PolicyObjects();
  const key = await generateKeyPair();
  const repo = randomRepo('bench-admission');
  const viaProxy = (ref: string): string => ref.replace(registry, proxy.address);

  // Every image signed by the real cosign before anything is timed.
  const push = async (name: string): Promise<string> => {
    const img = await pushRandomImage(registry, `${repo}/${name}`, { layers: 1, layerBytes: 1024 });
    await sign(img.ref, key, 'bundle');
    return viaProxy(img.ref);
  };
  const judgedRef = await push('judged');
  const warmNew = 5;
  const signing = pLimit(2);
  const fresh = await Promise.all(
    Array.from({ length: options.newDigests + warmNew }, (_, i) => signing(() => push(`new-${String(i)}`))),
  );

  const [operatorNs, namespace] = await Promise.all([
    freshNamespace('bench-adm-op'),
    freshNamespace('bench-adm'),
  ]);
  const policy = `bench-admission-${namespace}`;
  await policies.create(policy, {
    mode: 'Enforce',
    match: {
      images: [`${proxy.address}/${repo}/**`],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    },
    authorities: [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
  });
  await runningPod(namespace, 'judged', judgedRef);

  const operator = await startOperatorProcess(
    [
      '--namespace',
      operatorNs,
      '--no-leader-election',
      '--log-level',
      'warn',
      '--insecure-registry',
      proxy.address,
      // No such configuration: the replica serves a leaf of the CA at once.
      ...loopbackWebhookFlags(`bench-absent-${namespace}`),
    ],
    { entry: [mainJs], kubeconfig, timeoutMs: 60_000 },
  );
  const agents: ReturnType<typeof keepAliveAgent>[] = [];
  try {
    // The verdict is in: the running pod is labelled, so its evidence and verdict are in memory.
    await eventually(
      'the running pod judged compliant',
      async () => ((await podMarks(namespace, 'judged')).label === 'compliant' ? true : undefined),
      120_000,
    );
    await eventually(
      'the webhook serving a certificate of its CA',
      async () =>
        (await fetch(`http://127.0.0.1:${String(operator.probePort)}/readyz`)).status === 200
          ? true
          : undefined,
      60_000,
    );
    const secret = (await new KubeHttp(kubeConnection(kubeconfig)).call({
      method: 'GET',
      path: `/api/v1/namespaces/${operatorNs}/secrets/sigwatch-webhook-ca`,
    })) as { data?: Record<string, string> };
    const target: Target = {
      port: operator.webhookPort,
      path: '/validate',
      ca: Buffer.from(secret.data?.['ca.crt'] ?? '', 'base64').toString('utf8'),
      servername: 'localhost',
    };

    /** A warm-up run (discarded), then the measured run, with the operator's side of it. */
    const measure = async (
      kind: ReviewKind,
      images: readonly string[],
      warmup: readonly string[],
      rate: number,
    ): Promise<AdmissionRow> => {
      const agent = keepAliveAgent(target, sockets);
      agents.push(agent);
      await openPool(agent, target, plan(kind, namespace, warmup.slice(0, sockets)));
      await openLoop(agent, target, plan(kind, namespace, warmup), rate);
      const requests = plan(kind, namespace, images);
      const before = await scrape(operator, policy);
      proxy.reset();
      const run = await openLoop(agent, target, requests, rate);
      const registryRequests = proxy.requests.length;
      const after = await scrape(operator, policy);
      return {
        kind,
        ...run,
        serverMeanMs:
          ((after.validateSeconds - before.validateSeconds) / (after.validations - before.validations)) *
          1000,
        operatorCpuPercent: ((after.cpuSeconds - before.cpuSeconds) / (run.elapsedMs / 1000)) * 100,
        registryRequests,
        policyAllows: after.allows - before.allows,
      };
    };

    // (a) The digest already judged, by Pod and by Deployment.
    const count = Math.round(options.rate * options.seconds);
    const warm = Math.round(options.rate * options.warmupSeconds);
    const judged: AdmissionRow[] = [];
    const times = (n: number): string[] => Array.from({ length: n }, () => judgedRef);
    for (const kind of ['Pod', 'Deployment'] as const)
      judged.push(await measure(kind, times(count), times(warm), options.rate));
    const h = options.headroomRate;
    const headroom =
      h > 0
        ? await measure(
            'Pod',
            times(Math.round(h * options.seconds)),
            times(Math.round(h * options.warmupSeconds)),
            h,
          )
        : undefined;

    // (b) A new signed digest each request; then cosign on the same images (running second, whatever the
    // registry has warmed helps cosign, not Sigwatch).
    const newRow = await measure('Pod', fresh.slice(warmNew), fresh.slice(0, warmNew), options.newRate);
    const cosignMs: number[] = [];
    proxy.reset();
    for (const ref of fresh.slice(warmNew)) {
      const t0 = performance.now();
      await verifyWithKey([ref], key);
      cosignMs.push(performance.now() - t0);
    }
    const newDigest = {
      ...newRow,
      cosignMedianMs: median(cosignMs),
      cosignP99Ms: quantile(cosignMs, 0.99),
      cosignRequestsPerImage: proxy.requests.length / cosignMs.length,
    };
    return {
      cores: cpus().length,
      judged,
      ...(headroom === undefined ? {} : { headroom }),
      newDigest,
      targets: admissionTargets(judged, newDigest, options, cpus().length),
    };
  } finally {
    for (const a of agents) a.destroy();
    await operator.stop();
    await policies.deleteAll();
    await proxy.close();
  }
}
