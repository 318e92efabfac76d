/**
 * Kubernetes helpers for integration tests against the real apiserver of
 * hack/testenv. No kubelet, scheduler or controller-manager runs there, so
 * these helpers do their jobs: they write pod and PDB status, mint
 * service-account tokens, and hand out a fresh namespace per test (a deleted
 * namespace never finishes terminating without the namespace controller).
 */
import { randomBytes } from 'node:crypto';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { kubeConfigConnection, type KubeConnection } from '../../src/operator/kube/connection.js';
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type V1ContainerStatus,
  type V1PodDisruptionBudgetStatus,
} from '@kubernetes/client-node';

/** A KubeConfig for the test environment's admin (system:masters), or the one at `path`. */
export function kubeConfig(path = process.env['KUBECONFIG']): KubeConfig {
  if (path === undefined) {
    throw new Error('KUBECONFIG is not set: the integration root hook starts the test environment');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** A KubeConfig for the test environment's API server, authenticated by a bearer token alone. */
export function kubeConfigWithToken(token: string): KubeConfig {
  const cluster = kubeConfig().getCurrentCluster();
  if (cluster === null) throw new Error('the test kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'token', token }],
    contexts: [{ name: 'token', cluster: cluster.name, user: 'token' }],
    currentContext: 'token',
  });
  return kc;
}

/** The operator's connection for the test environment's admin, or the kubeconfig at `path`. */
export const kubeConnection = (path?: string): KubeConnection => kubeConfigConnection(kubeConfig(path));

/** The operator's connection to the test environment's API server with a bearer token alone. */
export const kubeConnectionWithToken = (token: string): KubeConnection =>
  kubeConfigConnection(kubeConfigWithToken(token));

/**
 * Calls `body` with a client of a fresh ServiceAccount `serviceAccount` in a fresh namespace, bound
 * cluster-wide to a ClusterRole of `rules` made for the call; role and binding are deleted after it,
 * whatever happens. For "whatever RBAC allows" tests of admission policies.
 */
export async function withClusterRules<T>(
  serviceAccount: string,
  rules: readonly object[],
  body: (kube: KubeHttp) => Promise<T>,
): Promise<T> {
  const admin = new KubeHttp(kubeConnection());
  const ns = await freshNamespace('rbac');
  const name = `test-rules-${ns}`;
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await admin.call({ method: 'POST', path: `${rbac}/clusterroles`, body: { metadata: { name }, rules } });
  try {
    await admin.call({
      method: 'POST',
      path: `${rbac}/clusterrolebindings`,
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace: ns }],
      },
    });
    return await body(new KubeHttp(kubeConnectionWithToken(await mintToken(ns, serviceAccount))));
  } finally {
    await admin.send({ method: 'DELETE', path: `${rbac}/clusterrolebindings/${name}` });
    await admin.send({ method: 'DELETE', path: `${rbac}/clusterroles/${name}` });
  }
}

const mergePatch = (): ReturnType<typeof setHeaderOptions> =>
  setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Creates a namespace with a unique name (`prefix-<8 hex>`) and returns the name. */
export async function freshNamespace(prefix = 'test'): Promise<string> {
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels: { 'sigwatch.dev/test': 'true' } } } });
  return name;
}

/** Creates (or replaces the spec of) a CRD, given as the JSON `kubectl apply` would send. */
export async function applyCrd(crd: object, timeoutMs = 30_000): Promise<void> {
  // Raw JSON, not the typed client: its serializer knows `x-kubernetes-*` keys only under their
  // camel-case model names and silently drops them from a plain object (preserve-unknown-fields,
  // list-map keys, CEL validations), which would test a CRD other than the one users apply.
  const kube = new KubeHttp(kubeConnection());
  const name = (crd as { metadata?: { name?: string } }).metadata?.name;
  if (name === undefined) {
    throw new Error('CRD without metadata.name');
  }
  const collection = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
  const created = await kube.send({ method: 'POST', path: collection, body: crd });
  if (created.status === 409) {
    const existing = (await kube.call({ method: 'GET', path: `${collection}/${name}` })) as { spec: unknown };
    await kube.call({
      method: 'PUT',
      path: `${collection}/${name}`,
      body: { ...existing, spec: (crd as { spec?: unknown }).spec },
    });
  } else if (created.status !== 201) {
    throw new Error(`creating CRD ${name}: ${String(created.status)} ${JSON.stringify(created.body)}`);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = (await kube.call({ method: 'GET', path: `${collection}/${name}` })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`CRD ${name} not Established after ${String(timeoutMs)} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function isConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 409;
}

/** One running container as a kubelet reports it. */
export interface RunningContainer {
  readonly name: string;
  /** The image as written in the pod spec. */
  readonly image: string;
  /** What the runtime reports, e.g. `127.0.0.1:5000/app@sha256:…` or `docker-pullable://…`. */
  readonly imageID: string;
}

/**
 * Plays the kubelet: marks the pod Running with the given container statuses,
 * through the status subresource as a kubelet would.
 */
export async function setRunning(
  namespace: string,
  pod: string,
  containers: readonly RunningContainer[],
  now = new Date(),
): Promise<void> {
  const startedAt = now;
  const containerStatuses: V1ContainerStatus[] = containers.map((c) => ({
    name: c.name,
    image: c.image,
    imageID: c.imageID,
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt } },
  }));
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .patchNamespacedPodStatus(
      {
        name: pod,
        namespace,
        body: {
          status: {
            phase: 'Running',
            conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: startedAt }],
            containerStatuses,
          },
        },
      },
      mergePatch(),
    );
}

/**
 * Writes a PodDisruptionBudget's status, which no controller computes here.
 * Without it the Eviction API refuses (429) every pod the PDB covers, because
 * `observedGeneration` lags `metadata.generation`.
 */
export async function setPdbStatus(
  namespace: string,
  name: string,
  status: Omit<V1PodDisruptionBudgetStatus, 'observedGeneration'>,
): Promise<void> {
  const api = kubeConfig().makeApiClient(PolicyV1Api);
  const pdb = await api.readNamespacedPodDisruptionBudget({ name, namespace });
  await api.patchNamespacedPodDisruptionBudgetStatus(
    { name, namespace, body: { status: { ...status, observedGeneration: pdb.metadata?.generation ?? 1 } } },
    mergePatch(),
  );
}

/**
 * Mints a bound service-account token with TokenRequest (the ServiceAccount is
 * created if missing: no ServiceAccount controller runs here).
 */
export async function mintToken(
  namespace: string,
  serviceAccount: string,
  audiences: readonly string[] = [],
  expirationSeconds = 600,
): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  try {
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: serviceAccount } } });
  } catch (error: unknown) {
    if (!isConflict(error)) {
      throw error;
    }
  }
  const tr = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: [...audiences], expirationSeconds } },
  });
  const token = tr.status?.token;
  if (token === undefined) {
    throw new Error('TokenRequest returned no token');
  }
  return token;
}
