/**
 * The workload behind a pod, for the eviction rules of design §6: which
 * object recreates it (a Deployment for the ReplicaSets it owns, else the
 * controlling owner itself), whether that owner has all its desired
 * replicas Ready, and the images of the template a replacement would be
 * created from.
 *
 * Owners are read with GET when an eviction is considered — rarely, and
 * only for pods already past every other guard rail — and cached for a few
 * seconds; no cluster-wide watch of Deployments and ReplicaSets is kept for
 * the sake of a decision most clusters never reach.
 */
import { createHash } from 'node:crypto';
import type { KubeHttp } from '../kube/client.js';
import { controllerOf } from '../pod.js';
import { asObject, type JsonObject as Json } from '../../base/json.js';

export interface OwnerInfo {
  /** The workload (a Deployment for its ReplicaSets): what perOwnerInterval and readiness are about. */
  readonly kind: string;
  readonly name: string;
  /** The workload has all its desired replicas Ready (always true for a Job: it has no replicas to keep). */
  readonly ready: boolean;
  /**
   * Container name → image, from the template of the pod's own controller:
   * the object that creates the replacement. For a Deployment's pod that is
   * its ReplicaSet, whose template never changes — a Deployment edit rolls
   * out through a new ReplicaSet, and evicting a pod of the old one only
   * brings back the same image.
   */
  readonly templateImages: ReadonlyMap<string, string>;
  /** Container name → `imagePullPolicy` of the same template, where it is set (the API server defaults it). */
  readonly templatePullPolicies: ReadonlyMap<string, string>;
  /** The object whose template creates the replacement (the pod's own controller) and its generation. */
  readonly template: { readonly controller: string; readonly generation: number };
}

/** The pod's own controller as it stands now, for releasing a loop (loop-guard.ts). */
export interface TemplateState {
  readonly generation: number;
  /** Desired replicas; undefined for kinds without them (DaemonSet, Job). */
  readonly replicas?: number;
}

const obj = (v: unknown): Json => asObject(v) ?? {};

/**
 * The workload a pod belongs to, as `Kind/name`, without asking the API
 * server — what the circuit breaker keys its memory by, once per judged pod.
 * A Deployment's pods are owned by one of its ReplicaSets, which the
 * Deployment controller names `<deployment>-<pod-template-hash>` and whose
 * pods carry that hash as the label `pod-template-hash`: such a pod belongs
 * to `Deployment/<deployment>`, the name OwnerLookup.resolve finds and
 * `status.evictions` records. Any other controlling owner is the workload
 * itself; a bare pod is `Pod/<name>`, as its eviction record names it. A
 * hand-made ReplicaSet named and labelled like a Deployment's merges with
 * that Deployment here, which only ever makes the breaker count fewer pods
 * of the same workload and digest as new.
 */
export function workloadOf(pod: {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly owner?: { readonly kind: string; readonly name: string };
}): string {
  const { owner } = pod;
  if (owner === undefined) return `Pod/${pod.name}`;
  const hash = pod.labels['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash !== undefined && hash !== '') {
    const suffix = `-${hash}`;
    if (owner.name.length > suffix.length && owner.name.endsWith(suffix))
      return `Deployment/${owner.name.slice(0, -suffix.length)}`;
  }
  return `${owner.kind}/${owner.name}`;
}
const num = (v: unknown, fallback: number): number =>
  typeof v === 'number' && Number.isFinite(v) ? v : fallback;

const paths: Readonly<Record<string, string>> = {
  ReplicaSet: 'apis/apps/v1/namespaces/{ns}/replicasets',
  Deployment: 'apis/apps/v1/namespaces/{ns}/deployments',
  StatefulSet: 'apis/apps/v1/namespaces/{ns}/statefulsets',
  DaemonSet: 'apis/apps/v1/namespaces/{ns}/daemonsets',
  Job: 'apis/batch/v1/namespaces/{ns}/jobs',
};

/** Whether the object has every desired replica Ready, by its kind's status fields. */
export function ownerReady(kind: string, object: unknown): boolean {
  const spec = obj(obj(object)['spec']);
  const status = obj(obj(object)['status']);
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet': {
      const desired = num(spec['replicas'], 1);
      return num(status['readyReplicas'], 0) >= desired && num(status['unavailableReplicas'], 0) === 0;
    }
    case 'DaemonSet':
      return num(status['numberReady'], 0) >= num(status['desiredNumberScheduled'], Infinity);
    case 'Job':
      return true;
    default:
      return false;
  }
}

/** Container name → `field` (a string) of `spec.template.spec`'s containers and init containers. */
function templateField(object: unknown, field: 'image' | 'imagePullPolicy'): Map<string, string> {
  const podSpec = obj(obj(obj(obj(object)['spec'])['template'])['spec']);
  const values = new Map<string, string>();
  for (const group of ['initContainers', 'containers']) {
    const list = podSpec[group];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      const name = obj(c)['name'];
      const value = obj(c)[field];
      if (typeof name === 'string' && typeof value === 'string') values.set(name, value);
    }
  }
  return values;
}

/** Container name → image of `spec.template.spec` (containers, init containers). */
export const templateImages = (object: unknown): Map<string, string> => templateField(object, 'image');

/**
 * The version of an object's pod template: a hash of `spec.template`, not
 * `metadata.generation`, which a scale (`kubectl scale`, an autoscaler) moves
 * too — a loop must be released by a new template, never by a scale. 0 when
 * the object has no template (never equal to a hash, which is at least 1).
 */
export function templateVersion(object: unknown): number {
  const template = obj(obj(object)['spec'])['template'];
  if (template === undefined) return 0;
  const digest = createHash('sha256').update(stableJson(template)).digest();
  // 48 bits: a safe integer, and a collision between two templates of one workload is not a concern.
  return digest.readUIntBE(0, 6) + 1;
}

/** JSON with object keys sorted, so the hash does not depend on the order the API server sent them in. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return v === undefined ? 'null' : JSON.stringify(v);
}

/** The fields ownerReady, templateImages and controllerOf read. */
function slim(object: unknown): unknown {
  const o = obj(object);
  const spec = obj(o['spec']);
  const meta = obj(o['metadata']);
  return {
    metadata: { ownerReferences: meta['ownerReferences'], generation: meta['generation'] },
    spec: {
      replicas: spec['replicas'],
      // The whole template: its hash is the template's version (templateVersion).
      template: obj(spec['template']),
    },
    status: o['status'],
  };
}

export class OwnerLookup {
  /** Short-lived: expired entries are dropped on the next lookup, so it never outgrows one burst of decisions. */
  private readonly cache = new Map<string, { at: number; value: unknown }>();

  constructor(
    private readonly kube: KubeHttp,
    private readonly ttlMs = 5_000,
  ) {}

  /**
   * The workload that would recreate a pod whose controlling owner is
   * `owner`; undefined when that owner is gone or of a kind Sigwatch does
   * not know (then no replacement can be predicted).
   * @throws KubeError when the API server cannot be asked
   */
  async resolve(namespace: string, owner: { kind: string; name: string }): Promise<OwnerInfo | undefined> {
    const direct = await this.read(namespace, owner.kind, owner.name);
    if (direct === undefined) return undefined;
    const fromTemplate = {
      templateImages: templateImages(direct),
      templatePullPolicies: templateField(direct, 'imagePullPolicy'),
      template: { controller: `${owner.kind}/${owner.name}`, generation: templateVersion(direct) },
    };
    // A Deployment's ReplicaSet: the Deployment is the workload whose availability the eviction must not hurt.
    const parent = owner.kind === 'ReplicaSet' ? controllerOf(obj(direct)['metadata']) : undefined;
    if (parent?.kind === 'Deployment') {
      const deployment = await this.read(namespace, parent.kind, parent.name);
      if (deployment !== undefined)
        return { ...parent, ready: ownerReady(parent.kind, deployment), ...fromTemplate };
    }
    return { ...owner, ready: ownerReady(owner.kind, direct), ...fromTemplate };
  }

  /**
   * The generation and desired replicas of a pod's controller `Kind/name`;
   * undefined when it is gone (or of a kind Sigwatch does not read).
   * @throws KubeError when the API server cannot be asked
   */
  async templateState(namespace: string, controller: string): Promise<TemplateState | undefined> {
    const slash = controller.indexOf('/');
    const object = await this.read(namespace, controller.slice(0, slash), controller.slice(slash + 1));
    if (object === undefined) return undefined;
    const replicas = obj(obj(object)['spec'])['replicas'];
    return {
      generation: templateVersion(object),
      ...(typeof replicas === 'number' ? { replicas } : {}),
    };
  }

  private async read(namespace: string, kind: string, name: string): Promise<unknown> {
    const collection = paths[kind];
    if (collection === undefined) return undefined;
    const path = `/${collection.replace('{ns}', encodeURIComponent(namespace))}/${encodeURIComponent(name)}`;
    const now = Date.now();
    for (const [key, entry] of this.cache) if (now - entry.at >= this.ttlMs) this.cache.delete(key);
    const cached = this.cache.get(path);
    if (cached !== undefined) return cached.value;
    const value = await this.kube.getOptional(path, 10_000);
    // Only what decisions read: not the whole object with its managedFields.
    const kept = value === undefined ? undefined : slim(value);
    this.cache.set(path, { at: Date.now(), value: kept });
    return kept;
  }
}
