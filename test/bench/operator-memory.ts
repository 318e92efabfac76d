/**
 * The operator's memory at cluster scale (design §7: < 200 MiB RSS with
 * 10,000 pods, 1,000 digests and 500-component SBOMs), measured on the real
 * thing: `sigwatch run` from the compiled `dist/` (as the container image
 * runs it), in its own process, against the test environment's API server
 * holding 10,000 Running pods and an Audit-mode policy that requires each
 * digest's signature and SBOM attestation. Audit mode writes no labels, so
 * the run measures what the operator holds, not how fast it may write.
 *
 * It runs as in a pod: no kubeconfig, the service variables pointing at the
 * API server on loopback and a service-account token and CA mounted at the
 * documented path (a private mount namespace; needs root). The baseline in
 * the same run is the same binary given `--kubeconfig`, which loads
 * `@kubernetes/client-node`, as every run did before the in-cluster
 * connection.
 *
 * Figures are the process's own metrics: the idle floor (started with no
 * pods, 20 s after start-up) and, once every pod is judged, after 30 s idle.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { allCrds } from '../../src/operator/crds/crds.js';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { kubeConfigConnection } from '../../src/operator/kube/connection.js';
import { applyCrd, mintToken } from '../support/kube.js';
import { startOperatorProcess, type InCluster } from '../support/operator-process.js';
import { spec, type ScaleImages } from './operator-scale.js';
import { metricSum } from './stats.js';

/** One reading of the operator's memory, in MiB. */
export interface MemoryFigures {
  readonly rssMiB: number;
  /** JS heap in use. */
  readonly heapUsedMiB: number;
  /** JS heap reserved by V8 (used plus free pages it keeps). */
  readonly heapTotalMiB: number;
  /** Memory of C++ objects bound to JS objects, array buffers included. */
  readonly externalMiB: number;
  readonly arrayBuffersMiB: number;
}

export type ConnectionMode = 'kubeconfig' | 'in-cluster';

export interface OperatorMemoryRun {
  readonly mode: ConnectionMode;
  /** Node flags the operator ran with. */
  readonly nodeOptions: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** With no pods, 20 s after start-up. */
  readonly idle: MemoryFigures;
  /** Until every pod had a verdict (all evidence fetched and judged). */
  readonly judgedAfterMs: number;
  /** The largest RSS seen meanwhile (sampled every second): what the memory limit must allow. */
  readonly peakRssMiB: number;
  /** Every pod judged, then 30 s idle. */
  readonly judged: MemoryFigures;
}

export interface OperatorMemoryResult {
  readonly pods: number;
  readonly digests: number;
  readonly componentsPerSbom: number;
  readonly runs: readonly OperatorMemoryRun[];
}

/** How one run starts the operator. */
export interface MemoryVariant {
  readonly mode: ConnectionMode;
  readonly nodeOptions?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const deploymentYaml = fileURLToPath(new URL('../../config/base/deployment.yaml', import.meta.url));

/** Runs `count` tasks, at most `width` at a time. */
async function inParallel(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function must(kube: KubeHttp, req: Parameters<KubeHttp['call']>[0]): Promise<void> {
  await kube.call({ ...req, timeoutMs: 60_000 });
}

/** 10,000 pods, each Running the digest a kubelet reported, created as fast as the API server takes them. */
async function createPods(
  kube: KubeHttp,
  namespace: string,
  prepared: ScaleImages,
  perDigest: number,
): Promise<void> {
  const ns = encodeURIComponent(namespace);
  await must(kube, { method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: namespace } } });
  const startedAt = new Date().toISOString();
  await inParallel(prepared.images.length * perDigest, 32, async (i) => {
    const img = prepared.images[Math.floor(i / perDigest)];
    if (img === undefined) return;
    const ref = `${img.registry}/${img.repository}@${img.digest}`;
    const name = `pod-${String(i)}`;
    await must(kube, {
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/pods`,
      body: {
        metadata: {
          name,
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'ReplicaSet',
              name: `rs-${img.repository.replace(/\W/g, '-')}`,
              uid: `uid-${String(Math.floor(i / perDigest))}`,
              controller: true,
            },
          ],
        },
        spec: { containers: [{ name: 'app', image: ref }] },
      },
    });
    await must(kube, {
      method: 'PATCH',
      path: `/api/v1/namespaces/${ns}/pods/${name}/status`,
      body: {
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: startedAt }],
          containerStatuses: [
            {
              name: 'app',
              image: ref,
              imageID: ref,
              ready: true,
              restartCount: 0,
              started: true,
              state: { running: { startedAt } },
            },
          ],
        },
      },
    });
  });
}

function figures(text: string): MemoryFigures {
  const mib = (metric: string): number => metricSum(text, metric) / 2 ** 20;
  return {
    rssMiB: mib('process_resident_memory_bytes'),
    heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
    heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
    externalMiB: mib('nodejs_external_memory_bytes'),
    arrayBuffersMiB: mib('sigwatch_array_buffers_bytes'),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A pod's view of the test API server: a service account of the operator
 * namespace bound to cluster-admin (what RBAC the install grants is tested
 * elsewhere), its token, the server's CA, and the service address.
 */
async function podIdentity(
  kube: KubeHttp,
  kc: KubeConfig,
  namespace: string,
): Promise<InCluster & { cleanup(): Promise<void> }> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the test kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const ca =
    cluster.caData === undefined ? undefined : Buffer.from(cluster.caData, 'base64').toString('utf8');
  if (ca === undefined) throw new Error('the test kubeconfig has no inline CA');
  const binding = `${namespace}-sigwatch`;
  await must(kube, {
    method: 'POST',
    path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
    body: {
      metadata: { name: binding },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'sigwatch', namespace }],
    },
  });
  const token = await mintToken(namespace, 'sigwatch', [], 3600);
  const serviceAccountDir = await mkdtemp(join(tmpdir(), 'sigwatch-bench-sa-'));
  const home = await mkdtemp(join(tmpdir(), 'sigwatch-bench-home-'));
  await writeFile(join(serviceAccountDir, 'token'), token);
  await writeFile(join(serviceAccountDir, 'ca.crt'), ca);
  await writeFile(join(serviceAccountDir, 'namespace'), namespace);
  return {
    serviceAccountDir,
    home,
    host: server.hostname,
    port: server.port === '' ? '443' : server.port,
    async cleanup(): Promise<void> {
      await rm(serviceAccountDir, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
      await kube
        .send({ method: 'DELETE', path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}` })
        .catch(() => undefined);
    },
  };
}

/** The default: the old way (kubeconfig, client-node loaded) against the pod's way. */
/**
 * The memory settings the install runs with: the V8 flags of the container's
 * `command` (between `node` and the script) and the `MALLOC_*` variables of
 * config/base/deployment.yaml, read from the file so the figure the targets
 * are judged on is the one a pod gets.
 */
export function installSettings(): { nodeOptions: string[]; env: Record<string, string> } {
  const deployment = parse(readFileSync(deploymentYaml, 'utf8')) as {
    spec: {
      template: { spec: { containers: { command?: string[]; env?: { name: string; value?: string }[] }[] } };
    };
  };
  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const e of container?.env ?? [])
    if (e.value !== undefined && e.name.startsWith('MALLOC_')) env[e.name] = e.value;
  const nodeOptions = (container?.command ?? []).filter((a) => a.startsWith('--'));
  return { nodeOptions, env };
}

/** The baseline (a kubeconfig: client-node loaded, Node's defaults) and the operator as the install runs it. */
export const defaultVariants: readonly MemoryVariant[] = [
  { mode: 'kubeconfig' },
  { mode: 'in-cluster', ...installSettings() },
];

export async function operatorMemoryBench(
  prepared: ScaleImages,
  kubeconfig: string,
  variants: readonly MemoryVariant[] = defaultVariants,
  podsPerDigest = 10,
): Promise<OperatorMemoryResult> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const kube = new KubeHttp(kubeConfigConnection(kc));
  for (const crd of allCrds()) await applyCrd(crd);
  const namespace = `bench-memory-${String(Date.now())}`;
  const operatorNamespace = `${namespace}-sigwatch`;
  await must(kube, {
    method: 'POST',
    path: '/api/v1/namespaces',
    body: { metadata: { name: operatorNamespace } },
  });
  const pod = await podIdentity(kube, kc, operatorNamespace);
  const registries = [...new Set(prepared.images.map((i) => i.registry))];
  const start = (v: MemoryVariant): ReturnType<typeof startOperatorProcess> =>
    startOperatorProcess(
      [
        '--namespace',
        operatorNamespace,
        '--no-leader-election',
        '--log-level',
        'warn',
        ...registries.flatMap((r) => ['--insecure-registry', r]),
      ],
      {
        entry: [...(v.nodeOptions ?? []), mainJs],
        ...(v.mode === 'in-cluster' ? { inCluster: pod } : { kubeconfig }),
        env: v.env ?? {},
        timeoutMs: 60_000,
      },
    );
  const metricsOf = async (port: number): Promise<string> =>
    (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  try {
    // The floor: started before there is anything to judge.
    const idle: MemoryFigures[] = [];
    for (const v of variants) {
      const operator = await start(v);
      try {
        await sleep(20_000);
        idle.push(figures(await metricsOf(operator.probePort)));
      } finally {
        await operator.stop();
      }
    }

    const pods = prepared.images.length * podsPerDigest;
    await createPods(kube, namespace, prepared, podsPerDigest);
    await must(kube, {
      method: 'POST',
      path: '/apis/sigwatch.dev/v1alpha1/imagepolicies',
      body: {
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImagePolicy',
        metadata: { name: namespace },
        spec: {
          ...spec(prepared.key, '<1.0.0', 'Audit'),
          match: {
            images: ['127.0.0.1:*/**'],
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
          },
        },
      },
    });

    const runs: OperatorMemoryRun[] = [];
    for (const [i, v] of variants.entries()) {
      const t0 = performance.now();
      const operator = await start(v);
      try {
        // Judged: every pod counted under the policy with a definite verdict.
        let judgedAfterMs = 0;
        let peakRssMiB = 0;
        for (;;) {
          const text = await metricsOf(operator.probePort);
          peakRssMiB = Math.max(peakRssMiB, figures(text).rssMiB);
          const definite = metricSum(
            text,
            'sigwatch_pods',
            new RegExp(`policy="${namespace}",verdict="(Compliant|NonCompliant)"`),
          );
          if (definite >= pods) {
            judgedAfterMs = performance.now() - t0;
            break;
          }
          if (performance.now() - t0 > 20 * 60_000)
            throw new Error(`only ${String(definite)} of ${String(pods)} pods judged`);
          await sleep(1000);
        }
        // Idle for a while: what a steady operator holds, not the peak of the first judgement.
        await sleep(30_000);
        runs.push({
          mode: v.mode,
          nodeOptions: v.nodeOptions ?? [],
          env: v.env ?? {},
          idle: idle[i] ?? figures(''),
          judgedAfterMs,
          peakRssMiB,
          judged: figures(await metricsOf(operator.probePort)),
        });
      } finally {
        await operator.stop();
      }
    }
    return {
      pods,
      digests: prepared.images.length,
      componentsPerSbom: prepared.componentsPerSbom,
      runs,
    };
  } finally {
    await pod.cleanup();
    await must(kube, {
      method: 'DELETE',
      path: `/apis/sigwatch.dev/v1alpha1/imagepolicies/${namespace}`,
    }).catch(() => undefined);
    await must(kube, { method: 'DELETE', path: `/api/v1/namespaces/${namespace}` }).catch(() => undefined);
  }
}
