/**
 * The operator's memory at cluster scale (design §7: < 200 MiB RSS with
 * 10,000 pods, 1,000 digests and 500-component SBOMs), measured on the real
 * thing: `sigwatch run` from the compiled `dist/` (as the container image
 * runs it), in its own process, against the test environment's API server
 * holding 10,000 Running pods and an Audit-mode policy that requires each
 * digest's signature and SBOM attestation. Audit mode writes no labels, so
 * the run measures what the operator holds, not how fast it may write.
 *
 * The figure is the process's own `process_resident_memory_bytes` once every
 * pod is judged and the process has been idle for a while.
 */
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { allCrds } from '../../src/operator/crds/crds.js';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { kubeConfigConnection } from '../../src/operator/kube/connection.js';
import { applyCrd } from '../support/kube.js';
import { startOperatorProcess } from '../support/operator-process.js';
import { spec, type ScaleImages } from './operator-scale.js';
import { metricSum } from './stats.js';

export interface OperatorMemoryResult {
  readonly pods: number;
  readonly digests: number;
  readonly componentsPerSbom: number;
  /** Until every pod had a verdict (all evidence fetched and judged). */
  readonly judgedAfterMs: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
  /** Node flags the operator ran with. */
  readonly nodeOptions: readonly string[];
}

const mainJs = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

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

export async function operatorMemoryBench(
  prepared: ScaleImages,
  kubeconfig: string,
  podsPerDigest = 10,
  nodeOptions: readonly string[] = [],
  env: Readonly<Record<string, string>> = {},
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

  const registries = [...new Set(prepared.images.map((i) => i.registry))];
  const t0 = performance.now();
  const operator = await startOperatorProcess(
    [
      '--namespace',
      operatorNamespace,
      '--no-leader-election',
      '--log-level',
      'warn',
      ...registries.flatMap((r) => ['--insecure-registry', r]),
    ],
    { entry: [...nodeOptions, mainJs], kubeconfig, env, timeoutMs: 60_000 },
  );
  try {
    const port = operator.probePort;
    const metrics = async (): Promise<string> =>
      (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
    // Judged: every pod counted under the policy with a definite verdict.
    let judgedAfterMs = 0;
    for (;;) {
      const text = await metrics();
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
      await new Promise((r) => setTimeout(r, 1000));
    }
    // Idle for a while: what a steady operator holds, not the peak of the first judgement.
    await new Promise((r) => setTimeout(r, 30_000));
    const text = await metrics();
    return {
      pods,
      digests: prepared.images.length,
      componentsPerSbom: prepared.componentsPerSbom,
      judgedAfterMs,
      rssMiB: metricSum(text, 'process_resident_memory_bytes') / 2 ** 20,
      heapUsedMiB: metricSum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
      heapTotalMiB: metricSum(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
      externalMiB: metricSum(text, 'nodejs_external_memory_bytes') / 2 ** 20,
      nodeOptions,
    };
  } finally {
    await operator.stop();
    await must(kube, {
      method: 'DELETE',
      path: `/apis/sigwatch.dev/v1alpha1/imagepolicies/${namespace}`,
    }).catch(() => undefined);
    await must(kube, { method: 'DELETE', path: `/api/v1/namespaces/${namespace}` }).catch(() => undefined);
  }
}
