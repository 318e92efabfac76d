/**
 * Sigwatch installed on the cluster profile as a user installs it:
 * `manifests/install.yaml` through a kustomize overlay that replaces the image
 * reference (`images:`) and adds the flags an air-gapped cluster with a
 * plain-HTTP registry needs (`--insecure-registry`, `--trust-refresh=off`),
 * applied with kubectl. Everything else — the 2-replica Deployment, its
 * service account token, probes, read-only root filesystem, non-root user,
 * RBAC — is the shipped manifest.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
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

/** The operator's live pods; with `terminating`, those being deleted too. */
export async function sigwatchPods(env: ClusterEnv, terminating = false): Promise<SigwatchPod[]> {
  const list = (await clusterKube(env).call({
    method: 'GET',
    path: `/api/v1/namespaces/${sigwatchNamespace}/pods?labelSelector=app.kubernetes.io%2Fname%3Dsigwatch`,
  })) as PodList;
  return list.items
    .filter((p) => terminating || p.metadata.deletionTimestamp === undefined)
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

/** The operator image built from this checkout, signed and attested with the run's release key. */
export interface BuiltSigwatch {
  readonly key: CosignKey;
  readonly image: OperatorImage;
}

/** Memo per cluster: a failed attempt is forgotten, so the next file tries again and reports its own error. */
function memo<T>(make: (env: ClusterEnv) => Promise<T>): {
  get: (env: ClusterEnv) => Promise<T>;
  forget: () => void;
} {
  let held: { env: ClusterEnv; done: Promise<T> } | undefined;
  return {
    get: (env) => {
      if (held?.env !== env) {
        const done = make(env);
        held = { env, done };
        done.catch(() => {
          if (held?.done === done) held = undefined;
        });
      }
      return held.done;
    },
    forget: () => {
      held = undefined;
    },
  };
}

const built = memo(async (env): Promise<BuiltSigwatch> => {
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
  return { key, image };
});

const installed = memo(async (env): Promise<InstalledSigwatch> => {
  const { key, image } = await built.get(env);
  await installSigwatch(env, image.ref, ['--eviction-retry-interval=5s']);
  return { env, key, image };
});

/**
 * The run's cluster with Sigwatch built from this checkout (once per
 * cluster; the image build dominates: ~1 min cold, ~30 s warm) and installed
 * from install.yaml, whichever cluster test file asks first. A cluster
 * stopped and started again in between (the profile's own tests do) gets it
 * anew, and so does one whose install a test removed (uninstallSigwatch).
 */
export const installedSigwatch = async (): Promise<InstalledSigwatch> => installed.get(await clusterEnv());

/** The operator image and release key of the run's cluster, without installing anything. */
export const builtSigwatch = async (): Promise<BuiltSigwatch> => built.get(await clusterEnv());

/**
 * Deletes what install.yaml created except its CRDs (and with them every
 * policy) and its Namespace (slow to terminate, reused by the next install):
 * the webhook configurations first (they fail closed), then the rest, waiting
 * until the operator's pods are gone. Idempotent; the next installedSigwatch()
 * installs again.
 */
export async function uninstallSigwatch(env: ClusterEnv): Promise<void> {
  installed.forget();
  const objects = parseAllDocuments(await readFile(installYaml, 'utf8'))
    .map((d) => d.toJS() as { kind: string } | null)
    .filter((o): o is { kind: string } => o !== null)
    .filter((o) => o.kind !== 'CustomResourceDefinition' && o.kind !== 'Namespace');
  const webhooks = objects.filter((o) => o.kind.endsWith('WebhookConfiguration'));
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-uninstall-'));
  try {
    for (const [name, list] of [
      ['webhooks', webhooks],
      ['rest', objects.filter((o) => !webhooks.includes(o))],
    ] as const) {
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, list.map((o) => stringify(o)).join('---\n'));
      await kubectl(env, ['delete', '--ignore-not-found', '--wait', '-f', file], 180_000);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await eventually(
    'the operator pods gone',
    async () => ((await sigwatchPods(env, true)).length === 0 ? true : undefined),
    120_000,
  );
}

/**
 * Waits until the admission webhooks answer: a server-side dry run of a
 * Deployment in `default` (covered by the webhooks, judged by no test policy)
 * goes through them. After a test killed a replica, the webhook Service can
 * still route to the dead pod for a while, and with failurePolicy Fail every
 * workload change is refused meanwhile.
 */
export async function admissionAnswers(env: ClusterEnv, timeoutMs = 120_000): Promise<void> {
  await eventually(
    'the admission webhooks answering',
    async () => {
      const res = await clusterKube(env).send({
        method: 'POST',
        path: '/apis/apps/v1/namespaces/default/deployments?dryRun=All',
        body: {
          metadata: { name: 'admission-probe' },
          spec: {
            selector: { matchLabels: { app: 'admission-probe' } },
            template: {
              metadata: { labels: { app: 'admission-probe' } },
              spec: { containers: [{ name: 'app', image: `${env.registry}/admission-probe:1` }] },
            },
          },
        },
      });
      return res.status === 201 ? true : undefined;
    },
    timeoutMs,
  );
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
