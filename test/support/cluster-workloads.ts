/**
 * Namespaces, Deployments and their pods on the cluster profile, as the
 * end-to-end tests create and read them (the real controllers make the pods).
 */
import { randomBytes } from 'node:crypto';
import type { ClusterEnv } from './cluster.js';
import { clusterKube } from './cluster-sigwatch.js';
import { eventually } from './operator-process.js';

export interface ClusterPod {
  readonly name: string;
  readonly imageID: string;
  readonly ready: boolean;
  /** The `sigwatch.dev/compliance` label. */
  readonly label: string | undefined;
}

export interface DeployOptions {
  readonly pullAlways?: boolean;
  readonly replicas?: number;
}

/** A new namespace named `<prefix>-<random>`, once its `default` ServiceAccount exists. */
export async function clusterNamespace(env: ClusterEnv, prefix: string): Promise<string> {
  const kube = clusterKube(env);
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kube.call({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
  // ServiceAccount admission refuses pods until the controller made `default`.
  await eventually(`ServiceAccount ${name}/default`, () =>
    kube.call({ method: 'GET', path: `/api/v1/namespaces/${name}/serviceaccounts/default` }),
  );
  return name;
}

/** A Deployment of the runnable test image (ready when /healthz answers), labelled app=`name`. */
export function deploymentObject(
  ns: string,
  name: string,
  image: string,
  options: DeployOptions = {},
): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'app',
              image,
              imagePullPolicy: options.pullAlways === true ? 'Always' : 'IfNotPresent',
              readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

/** Creates deploymentObject(…) through the API. */
export async function clusterDeploy(
  env: ClusterEnv,
  ns: string,
  name: string,
  image: string,
  options: DeployOptions = {},
): Promise<void> {
  await clusterKube(env).call({
    method: 'POST',
    path: `/apis/apps/v1/namespaces/${ns}/deployments`,
    body: deploymentObject(ns, name, image, options),
  });
}

/** The live (not terminating) pods of app=`app`. */
export async function clusterPods(env: ClusterEnv, ns: string, app: string): Promise<ClusterPod[]> {
  const list = (await clusterKube(env).call({
    method: 'GET',
    path: `/api/v1/namespaces/${ns}/pods?labelSelector=app%3D${app}`,
  })) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
      status?: {
        conditions?: { type: string; status: string }[];
        containerStatuses?: { imageID?: string }[];
      };
    }[];
  };
  return list.items
    .filter((p) => p.metadata.deletionTimestamp === undefined)
    .map((p) => ({
      name: p.metadata.name,
      imageID: p.status?.containerStatuses?.[0]?.imageID ?? '',
      ready: p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      label: p.metadata.labels?.['sigwatch.dev/compliance'],
    }));
}

/** The one live pod of `app`, once it is Ready and labelled `label`. */
export function labelledPod(
  env: ClusterEnv,
  ns: string,
  app: string,
  label: string,
  timeoutMs = 60_000,
): Promise<ClusterPod> {
  return eventually(
    `${ns}/${app} Ready and labelled ${label}`,
    async () => {
      const live = await clusterPods(env, ns, app);
      return live.length === 1 && live[0]?.ready === true && live[0].label === label ? live[0] : undefined;
    },
    timeoutMs,
  );
}
