/**
 * Workloads as the controllers that do not run here would leave them: a
 * Deployment with its ReplicaSet and pods (owner references, Ready
 * status), Jobs, PodDisruptionBudgets, debug containers, and what tests
 * read back (whether a pod still exists, Events by reason).
 */
import { KubeHttp } from '../../src/operator/kube/client.js';
import { setRunning, kubeConnection } from './kube.js';
import { runningPod } from './operator-objects.js';

const kube = (): KubeHttp => new KubeHttp(kubeConnection());
const post = async (path: string, body: object): Promise<{ metadata: { uid: string } }> =>
  (await kube().call({ method: 'POST', path, body })) as { metadata: { uid: string } };

const podTemplate = (labels: Record<string, string>, image: string, imagePullPolicy?: string): object => ({
  metadata: { labels },
  spec: {
    containers: [{ name: 'app', image, ...(imagePullPolicy === undefined ? {} : { imagePullPolicy }) }],
  },
});

const controllerRef = (
  apiVersion: string,
  kind: string,
  name: string,
  uid: string,
): { apiVersion: string; kind: string; name: string; uid: string; controller: true } => ({
  apiVersion,
  kind,
  name,
  uid,
  controller: true,
});

/**
 * A Deployment whose ReplicaSet's template names `templateImage`, with
 * `pods` running `runningRef` (by digest), all replicas reported Ready;
 * `options` set the template's `imagePullPolicy` and bind the pods to a node.
 * @returns the ReplicaSet's uid, for replicaPod
 */
export async function deployment(
  namespace: string,
  name: string,
  templateImage: string,
  runningRef: string,
  pods: readonly string[],
  options: { readonly imagePullPolicy?: string; readonly nodeName?: string } = {},
): Promise<{ rsUid: string }> {
  const apps = `/apis/apps/v1/namespaces/${namespace}`;
  const labels = { app: name };
  const spec = {
    replicas: pods.length,
    selector: { matchLabels: labels },
    template: podTemplate(labels, templateImage, options.imagePullPolicy),
  };
  const d = await post(`${apps}/deployments`, { metadata: { name }, spec });
  const rs = await post(`${apps}/replicasets`, {
    metadata: {
      name: `${name}-rs`,
      ownerReferences: [controllerRef('apps/v1', 'Deployment', name, d.metadata.uid)],
    },
    spec,
  });
  const ready = { replicas: pods.length, readyReplicas: pods.length, availableReplicas: pods.length };
  await kube().call({
    method: 'PATCH',
    path: `${apps}/deployments/${name}/status`,
    body: { status: { ...ready, updatedReplicas: pods.length, unavailableReplicas: 0 } },
  });
  await kube().call({
    method: 'PATCH',
    path: `${apps}/replicasets/${name}-rs/status`,
    body: { status: ready },
  });
  for (const pod of pods)
    await replicaPod(namespace, name, pod, runningRef, rs.metadata.uid, options.nodeName);
  return { rsUid: rs.metadata.uid };
}

/**
 * One more pod of `deployment(namespace, name, …)`'s ReplicaSet (whose uid
 * is `rsUid`), as its controller would create a replacement.
 */
export async function replicaPod(
  namespace: string,
  name: string,
  pod: string,
  runningRef: string,
  rsUid: string,
  nodeName?: string,
): Promise<void> {
  await runningPod(
    namespace,
    pod,
    runningRef,
    {
      labels: { app: name },
      ownerReferences: [controllerRef('apps/v1', 'ReplicaSet', `${name}-rs`, rsUid)],
    },
    runningRef,
    nodeName,
  );
}

/**
 * A Node as a kubelet would report it (none runs here): `images` are the
 * `status.images[].names` lists, largest first. Call again to change them.
 */
export async function nodeWithImages(name: string, images: readonly (readonly string[])[]): Promise<void> {
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  if ((await kube().getOptional(path)) === undefined) await post('/api/v1/nodes', { metadata: { name } });
  await kube().call({
    method: 'PATCH',
    path: `${path}/status`,
    body: { status: { images: images.map((names, i) => ({ names, sizeBytes: 1_000_000 - i })) } },
  });
}

export async function deleteNode(name: string): Promise<void> {
  await kube()
    .call({ method: 'DELETE', path: `/api/v1/nodes/${encodeURIComponent(name)}` })
    .catch(() => undefined);
}

/** A Job whose template names `templateImage`, with one pod running `runningRef`. */
export async function jobPod(
  namespace: string,
  name: string,
  templateImage: string,
  runningRef: string,
): Promise<void> {
  const labels = { job: name };
  const job = await post(`/apis/batch/v1/namespaces/${namespace}/jobs`, {
    metadata: { name },
    spec: {
      // The API server demands a selector it generates itself unless told otherwise.
      manualSelector: true,
      selector: { matchLabels: labels },
      template: {
        ...podTemplate(labels, templateImage),
        spec: { containers: [{ name: 'app', image: templateImage }], restartPolicy: 'Never' },
      },
    },
  });
  await runningPod(namespace, `${name}-pod`, runningRef, {
    labels,
    ownerReferences: [controllerRef('batch/v1', 'Job', name, job.metadata.uid)],
  });
}

/** A PodDisruptionBudget over pods labelled `app: <app>`. */
export async function pdb(namespace: string, name: string, app: string): Promise<void> {
  await post(`/apis/policy/v1/namespaces/${namespace}/poddisruptionbudgets`, {
    metadata: { name },
    spec: { minAvailable: 1, selector: { matchLabels: { app } } },
  });
}

/**
 * Adds a running ephemeral container (what `kubectl debug` does) to a
 * running pod whose `app` container runs `appRef`.
 */
export async function debugContainer(
  namespace: string,
  pod: string,
  appRef: string,
  debugRef: string,
): Promise<void> {
  const path = `/api/v1/namespaces/${namespace}/pods/${pod}`;
  await kube().call({
    method: 'PATCH',
    path: `${path}/ephemeralcontainers`,
    contentType: 'application/strategic-merge-patch+json',
    body: {
      spec: { ephemeralContainers: [{ name: 'debugger', image: debugRef, targetContainerName: 'app' }] },
    },
  });
  await setRunning(namespace, pod, [{ name: 'app', image: appRef, imageID: appRef }]);
  await kube().call({
    method: 'PATCH',
    path: `${path}/status`,
    body: {
      status: {
        ephemeralContainerStatuses: [
          {
            name: 'debugger',
            image: debugRef,
            imageID: debugRef,
            ready: false,
            restartCount: 0,
            state: { running: { startedAt: new Date().toISOString() } },
          },
        ],
      },
    },
  });
}

export async function podExists(namespace: string, name: string): Promise<boolean> {
  return (await kube().getOptional(`/api/v1/namespaces/${namespace}/pods/${name}`)) !== undefined;
}

/** Events in `namespace` with `reason`, as `pod: message`. */
export async function eventsWithReason(namespace: string, reason: string): Promise<string[]> {
  const list = (await kube().call({ method: 'GET', path: `/api/v1/namespaces/${namespace}/events` })) as {
    items: { reason?: string; message?: string; involvedObject?: { name?: string } }[];
  };
  return list.items
    .filter((e) => e.reason === reason)
    .map((e) => `${e.involvedObject?.name ?? ''}: ${e.message ?? ''}`);
}
