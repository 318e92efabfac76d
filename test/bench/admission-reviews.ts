/**
 * AdmissionReview v1 requests as the API server sends them to a validating
 * webhook for `CREATE`: the object after defaulting (a Pod of a ReplicaSet,
 * or a Deployment), with the fields a real one carries — probes, resources,
 * the service-account token volume, tolerations — so the body the webhook
 * reads is the size it will be in a cluster (about 3 KiB), not a toy.
 */

export type ReviewKind = 'Pod' | 'Deployment';

const container = (image: string): Record<string, unknown> => ({
  name: 'app',
  image,
  imagePullPolicy: 'IfNotPresent',
  ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
  env: [
    { name: 'LOG_LEVEL', value: 'info' },
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
  ],
  resources: { limits: { memory: '256Mi' }, requests: { cpu: '100m', memory: '128Mi' } },
  readinessProbe: {
    httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' },
    periodSeconds: 10,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold: 3,
  },
  securityContext: {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  },
  terminationMessagePath: '/dev/termination-log',
  terminationMessagePolicy: 'File',
  volumeMounts: [
    {
      name: 'kube-api-access-x7k2p',
      readOnly: true,
      mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
    },
  ],
});

const podSpec = (image: string): Record<string, unknown> => ({
  containers: [container(image)],
  restartPolicy: 'Always',
  terminationGracePeriodSeconds: 30,
  dnsPolicy: 'ClusterFirst',
  serviceAccountName: 'default',
  serviceAccount: 'default',
  securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
  schedulerName: 'default-scheduler',
  tolerations: [
    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    {
      key: 'node.kubernetes.io/unreachable',
      operator: 'Exists',
      effect: 'NoExecute',
      tolerationSeconds: 300,
    },
  ],
  priority: 0,
  enableServiceLinks: true,
  preemptionPolicy: 'PreemptLowerPriority',
  volumes: [
    {
      name: 'kube-api-access-x7k2p',
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    },
  ],
});

const labels = { app: 'bench-web', 'app.kubernetes.io/part-of': 'bench', 'pod-template-hash': '6d4cf56db6' };

function podObject(namespace: string, image: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'bench-web-6d4cf56db6-',
      namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'bench-web-6d4cf56db6',
          uid: '2f0b6a8e-5a4c-4d8e-9a53-0c1f7d1b9e42',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: podSpec(image),
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}

function deploymentObject(namespace: string, image: string): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'bench-web', namespace, labels: { app: 'bench-web' }, generation: 1 },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'bench-web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
      template: { metadata: { labels }, spec: podSpec(image) },
    },
  };
}

const resources: Record<ReviewKind, { group: string; resource: string; version: string }> = {
  Pod: { group: '', resource: 'pods', version: 'v1' },
  Deployment: { group: 'apps', resource: 'deployments', version: 'v1' },
};

/** The serialized AdmissionReview for creating a `kind` whose one container runs `image`. */
export function reviewBody(kind: ReviewKind, uid: string, namespace: string, image: string): Buffer {
  const r = resources[kind];
  const object = kind === 'Pod' ? podObject(namespace, image) : deploymentObject(namespace, image);
  const gvk = { group: r.group, version: r.version, kind };
  const gvr = { group: r.group, version: r.version, resource: r.resource };
  return Buffer.from(
    JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: gvk,
        resource: gvr,
        requestKind: gvk,
        requestResource: gvr,
        ...(kind === 'Pod' ? {} : { name: 'bench-web' }),
        namespace,
        operation: 'CREATE',
        userInfo: {
          username: kind === 'Pod' ? 'system:serviceaccount:kube-system:replicaset-controller' : 'bench-user',
          uid: '7d1b9e42-0c1f-4d8e-9a53-2f0b6a8e5a4c',
          groups:
            kind === 'Pod' ? ['system:serviceaccounts', 'system:authenticated'] : ['system:authenticated'],
        },
        object,
        oldObject: null,
        dryRun: false,
        options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
      },
    }),
  );
}

/** Whether `answer` is the AdmissionReview admitting request `uid` (a cheap text check: the client must not be the bottleneck). */
export function admits(uid: string): (answer: string) => boolean {
  return (answer) => answer.includes(`"uid":"${uid}"`) && answer.includes('"allowed":true');
}
