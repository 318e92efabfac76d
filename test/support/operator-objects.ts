/**
 * Objects the operator tests create: ImagePolicies (remembered, so a test
 * file deletes what it made), running pods as a kubelet would report them,
 * and the marks Sigwatch writes on pods.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1OwnerReference } from '@kubernetes/client-node';
import { kubeConfig, setRunning } from './kube.js';

const group = { group: 'sigwatch.dev', version: 'v1alpha1', plural: 'imagepolicies' } as const;

export class PolicyObjects {
  private readonly created: string[] = [];
  private readonly api = (): CustomObjectsApi =>
    (this.kc?.() ?? kubeConfig()).makeApiClient(CustomObjectsApi);

  /** `kc`: another cluster than the run's bare environment (the cluster profile), read on each call. */
  constructor(private readonly kc?: () => KubeConfig) {}

  /** Creates an ImagePolicy; `fieldValidation: 'Ignore'` stores unknown fields' siblings as a careless client might. */
  async create(name: string, spec: unknown, fieldValidation?: 'Ignore' | 'Strict'): Promise<void> {
    this.created.push(name);
    await this.api().createClusterCustomObject({
      ...group,
      ...(fieldValidation === undefined ? {} : { fieldValidation }),
      body: { apiVersion: 'sigwatch.dev/v1alpha1', kind: 'ImagePolicy', metadata: { name }, spec },
    });
  }

  /**
   * Replaces the spec (a policy edit: the generation changes). The operator
   * writes status meanwhile, which moves the resourceVersion: a 409 is read
   * again and retried, as `kubectl edit` would.
   */
  async replaceSpec(name: string, spec: unknown): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const current = (await this.api().getClusterCustomObject({ ...group, name })) as { metadata: object };
      try {
        await this.api().replaceClusterCustomObject({
          ...group,
          name,
          body: {
            apiVersion: 'sigwatch.dev/v1alpha1',
            kind: 'ImagePolicy',
            metadata: current.metadata,
            spec,
          },
        });
        return;
      } catch (error: unknown) {
        if ((error as { code?: unknown }).code !== 409 || attempt >= 5) throw error;
      }
    }
  }

  /** The spec as stored, with what the API server filled in (schema defaults). */
  async storedSpec(name: string): Promise<Record<string, unknown> | undefined> {
    const p = (await this.api().getClusterCustomObject({ ...group, name })) as {
      spec?: Record<string, unknown>;
    };
    return p.spec;
  }

  async status(name: string): Promise<Record<string, unknown> | undefined> {
    const p = (await this.api().getClusterCustomObject({ ...group, name })) as {
      status?: Record<string, unknown>;
    };
    return p.status;
  }

  /** How many policies this object created and has not deleted yet. */
  count(): number {
    return this.created.length;
  }

  /** The names of the policies this object created and has not deleted yet. */
  names(): readonly string[] {
    return [...this.created];
  }

  async deleteAll(): Promise<void> {
    for (const name of this.created.splice(0)) {
      await this.api()
        .deleteClusterCustomObject({ ...group, name })
        .catch(() => undefined);
    }
  }
}

/**
 * Creates a pod whose spec names `ref` and reports it Running as a kubelet
 * would, with `imageID` (default: `ref`, which must then be by digest).
 */
export async function runningPod(
  namespace: string,
  name: string,
  ref: string,
  metadata: { labels?: Record<string, string>; ownerReferences?: V1OwnerReference[] } = {},
  imageID = ref,
  /** Bound to this node, as the scheduler would have done (none runs here). */
  nodeName?: string,
): Promise<void> {
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespacedPod({
      namespace,
      body: {
        metadata: { name, ...metadata },
        spec: { containers: [{ name: 'app', image: ref }], ...(nodeName === undefined ? {} : { nodeName }) },
      },
    });
  await setRunning(namespace, name, [{ name: 'app', image: ref, imageID }]);
}

/** The compliance label and the reasons annotation Sigwatch wrote on a pod. */
export async function podMarks(
  namespace: string,
  name: string,
): Promise<{ label: string | undefined; reasons: string | undefined; exemptBy: string | undefined }> {
  const meta = (await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name })).metadata;
  return {
    label: meta?.labels?.['sigwatch.dev/compliance'],
    reasons: meta?.annotations?.['sigwatch.dev/reasons'],
    exemptBy: meta?.annotations?.['sigwatch.dev/exempt-by'],
  };
}

/** An Enforce-mode spec for `images` in one namespace (selected by the label the API server sets on every namespace). */
export function enforceIn(
  namespace: string,
  images: readonly string[],
  authorities: readonly unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    mode: 'Enforce',
    match: { images, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } },
    authorities,
    ...extra,
  };
}

/** The evict action the eviction tests use: 3 s NonCompliant, generous budgets; `overrides` change fields. */
export function testEvictAction(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    enabled: true,
    noncompliantFor: '3s',
    maxPerHour: 20,
    perOwnerInterval: '10m',
    includeKinds: [],
    maxNewViolationsPercent: 100,
    ...overrides,
  };
}
