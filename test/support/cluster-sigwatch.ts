/**
 * Sigwatch installed on the cluster profile as a user installs it:
 * `manifests/install.yaml` through a kustomize overlay that replaces the image
 * reference (`images:`) and adds the flags an air-gapped cluster with a
 * plain-HTTP registry needs (`--insecure-registry`, `--trust-refresh=off`),
 * applied with kubectl. Everything else — the 2-replica Deployment, its
 * service account token, probes, read-only root filesystem, non-root user,
 * RBAC — is the shipped manifest.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { kubeConfigConnection } from '../../src/operator/kube/connection.js';
import { clusterEnv, type ClusterEnv } from './cluster.js';
import { attest, generateKeyPair, sign, type CosignKey } from './cosign.js';
import { buildOperatorImage, type OperatorImage } from './operator-image.js';
import { exec } from './exec.js';
import { eventually } from './operator-process.js';

const installYaml = fileURLToPath(new URL('../../manifests/install.yaml', import.meta.url));

export const sigwatchNamespace = 'sigwatch-system';

/** `kubectl` against the cluster, as its admin. */
export async function kubectl(
  env: ClusterEnv,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<string> {
  return (await exec('kubectl', ['--kubeconfig', env.kubeconfig, ...args], { timeoutMs })).stdout;
}

export const clusterKube = (env: ClusterEnv): KubeHttp => new KubeHttp(kubeConfigConnection(env.kc));

/** The overlay's kustomization: the image by digest, plus the air-gap flags. */
export function overlay(image: string, extraArgs: readonly string[]): string {
  const at = image.lastIndexOf('@');
  const patches = extraArgs.map(
    (arg) =>
      `      - op: add\n        path: /spec/template/spec/containers/0/args/-\n        value: ${JSON.stringify(arg)}\n`,
  );
  return [
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources: [install.yaml]',
    'images:',
    '  - name: sigwatch',
    `    newName: ${image.slice(0, at)}`,
    `    digest: ${image.slice(at + 1)}`,
    ...(patches.length === 0
      ? []
      : ['patches:', '  - target: { kind: Deployment, name: sigwatch }', '    patch: |-', ...patches]),
    '',
  ].join('\n');
}

/** The flags the test cluster needs beyond install.yaml (and nothing else). */
export const airGapArgs = (env: ClusterEnv): string[] => [
  `--insecure-registry=${env.registry}`,
  `--insecure-registry=${env.legacyRegistry}`,
  '--trust-refresh=off',
];

/**
 * Applies install.yaml with `image` (`repo@sha256:…`) and waits until both
 * replicas are Ready (the leader and a follower; followers report ready too).
 */
export async function installSigwatch(
  env: ClusterEnv,
  image: string,
  extraArgs: readonly string[] = [],
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-install-'));
  try {
    await copyFile(installYaml, join(dir, 'install.yaml'));
    await writeFile(join(dir, 'kustomization.yaml'), overlay(image, [...airGapArgs(env), ...extraArgs]));
    const rendered = await kubectl(env, ['kustomize', dir]);
    await writeFile(join(dir, 'rendered.yaml'), rendered);
    await kubectl(env, ['apply', '--server-side', '-f', join(dir, 'rendered.yaml')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await kubectl(
    env,
    ['rollout', 'status', '-n', sigwatchNamespace, 'deployment/sigwatch', '--timeout=180s'],
    200_000,
  );
}

export interface SigwatchPod {
  readonly name: string;
  readonly ip: string;
  readonly containerId: string;
  readonly ready: boolean;
}

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    status?: {
      podIP?: string;
      conditions?: { type: string; status: string }[];
      containerStatuses?: { containerID?: string; imageID?: string }[];
    };
  }[];
}

export async function sigwatchPods(env: ClusterEnv): Promise<SigwatchPod[]> {
  const list = (await clusterKube(env).call({
    method: 'GET',
    path: `/api/v1/namespaces/${sigwatchNamespace}/pods?labelSelector=app.kubernetes.io%2Fname%3Dsigwatch`,
  })) as PodList;
  return list.items
    .filter((p) => p.metadata.deletionTimestamp === undefined)
    .map((p) => ({
      name: p.metadata.name,
      ip: p.status?.podIP ?? '',
      containerId: (p.status?.containerStatuses?.[0]?.containerID ?? '').replace(/^containerd:\/\//, ''),
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    }));
}

/** The leader Lease's holder identity (pod name plus a random suffix); empty when released. */
export async function leaseHolder(env: ClusterEnv): Promise<string> {
  const lease = (await clusterKube(env).call({
    method: 'GET',
    path: `/apis/coordination.k8s.io/v1/namespaces/${sigwatchNamespace}/leases/sigwatch-leader`,
  })) as { spec?: { holderIdentity?: string } };
  return lease.spec?.holderIdentity ?? '';
}

/** The pod holding the leader Lease (its identity is the pod name plus a suffix). */
export async function leaderPod(env: ClusterEnv, timeoutMs = 60_000): Promise<SigwatchPod> {
  return eventually(
    'a Sigwatch leader',
    async () => {
      const holder = await leaseHolder(env);
      const pods = await sigwatchPods(env);
      return pods.find((p) => holder.startsWith(`${p.name}-`) || holder === p.name);
    },
    timeoutMs,
  );
}

/** The leader's /metrics, fetched from the host over the pod network. */
export async function leaderMetrics(env: ClusterEnv): Promise<string> {
  const leader = await leaderPod(env);
  const res = await fetch(`http://${leader.ip}:8081/metrics`, { signal: AbortSignal.timeout(10_000) });
  return res.text();
}

export interface InstalledSigwatch {
  readonly env: ClusterEnv;
  /** The test's release key: the operator image is signed and its SBOM attested with it. */
  readonly key: CosignKey;
  readonly image: OperatorImage;
}

let installed: { env: ClusterEnv; done: Promise<InstalledSigwatch> } | undefined;

/**
 * The run's cluster with Sigwatch built from this checkout and installed
 * from install.yaml, once per cluster whichever cluster test file asks first
 * (the image build dominates: ~1 min cold, ~30 s warm). A cluster stopped
 * and started again in between (the profile's own tests do) gets it anew.
 */
export async function installedSigwatch(): Promise<InstalledSigwatch> {
  const env = await clusterEnv();
  if (installed?.env !== env) {
    const done = install(env);
    installed = { env, done };
    // A failed attempt is not remembered: the next file tries again and reports its own error.
    done.catch(() => {
      if (installed?.done === done) installed = undefined;
    });
  }
  return installed.done;
}

async function install(env: ClusterEnv): Promise<InstalledSigwatch> {
  const key = await generateKeyPair();
  const image = await buildOperatorImage({
    registry: env.registry,
    repo: 'sigwatch',
    tag: 'e2e',
    workdir: join(tmpdir(), 'sigwatch-e2e-image'),
    signal: AbortSignal.timeout(840_000),
  });
  // Sigwatch's own image, signed and with its SBOM attested, like a release.
  await sign(image.ref, key, 'bundle');
  await attest(image.ref, key, 'bundle', 'cyclonedx', image.sbomPath);
  await installSigwatch(env, image.ref, ['--eviction-retry-interval=5s']);
  return { env, key, image };
}

/** The leader pod (by the Lease's holder), the other replica, and the holder identity read. */
export async function leaderAndFollower(
  env: ClusterEnv,
): Promise<{ identity: string; leader: SigwatchPod; other: SigwatchPod }> {
  const identity = await leaseHolder(env);
  const replicas = await sigwatchPods(env);
  const leader = replicas.find((p) => identity.startsWith(`${p.name}-`));
  const other = replicas.find((p) => p !== leader);
  if (leader === undefined || other === undefined)
    throw new Error(
      `no leader and follower: holder "${identity}", pods ${replicas.map((p) => p.name).join(', ')}`,
    );
  return { identity, leader, other };
}

/** Sends `signal` to a pod's container through containerd (SIGSTOP: stopped dead, no graceful shutdown). */
export function signalContainer(env: ClusterEnv, pod: SigwatchPod, signal: string): Promise<unknown> {
  return exec('ctr', [
    '--address',
    env.containerd,
    '-n',
    'k8s.io',
    'tasks',
    'kill',
    '-s',
    signal,
    pod.containerId,
  ]);
}
