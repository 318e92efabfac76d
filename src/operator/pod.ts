/**
 * Pods as the operator keeps them (design §4.6): only what the inventory
 * needs — names, labels, owner, phase and, per container, the image and the
 * digest the node reports — never the full object. And which reported
 * digests may lead to an action (design §4.1): only running containers and
 * running sidecars; ephemeral containers and terminated init containers are
 * verified and reported, never acted on; a container without a reported
 * digest is Pending.
 */
import type { Digest } from '../base/digest.js';
import { formatReference, parseImageId, parseReference, type ImageReference } from '../registry/reference.js';
import { asObject as obj, asArray as arr, asString as str, type JsonObject as Json } from '../base/json.js';

export type ContainerKind = 'container' | 'init' | 'sidecar' | 'ephemeral';

export interface TrimmedContainer {
  readonly name: string;
  readonly kind: ContainerKind;
  /**
   * The image the pod spec names (tag or digest), in canonical form
   * (`GHCR.IO/o/app:v1` → `ghcr.io/o/app:v1`); as written when it does not parse.
   */
  readonly image: string;
  /**
   * The spec image parsed, absent when it does not parse. Read this rather
   * than re-parsing `image`: a canonical name need not parse back to itself
   * (`MYREG/app` is registry `myreg`, but `myreg/app` is on Docker Hub).
   */
  readonly reference?: ImageReference;
  /** `status.*ContainerStatuses[].imageID` as reported, if any. */
  readonly imageID?: string;
  readonly state: 'running' | 'waiting' | 'terminated' | 'unknown';
}

export interface TrimmedPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `metadata.creationTimestamp` (RFC 3339), for the ImageVerdict's age. */
  readonly createdAt?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Only `sigwatch.dev/*` annotations: the ones Sigwatch reads back. */
  readonly annotations: Readonly<Record<string, string>>;
  readonly phase: string;
  readonly owner?: { readonly kind: string; readonly name: string };
  readonly priorityClassName?: string;
  readonly deleting: boolean;
  /** The API server's mirror of a static pod (annotation `kubernetes.io/config.mirror`): never evicted. */
  readonly mirror: boolean;
  readonly containers: readonly TrimmedContainer[];
  /** `spec.imagePullSecrets[].name`, read only with `--pod-pull-secrets`. */
  readonly pullSecrets: readonly string[];
  /** `spec.serviceAccountName` (its pull secrets count too), `default` when unset. */
  readonly serviceAccount: string;
  /** `spec.nodeName`, once bound: whose cached images a replacement there would run (evictions/). */
  readonly nodeName?: string;
}

/** Most pods carry no Sigwatch annotations (and some no labels): one frozen empty record for all of them. */
const noEntries: Readonly<Record<string, string>> = Object.freeze({});

function stringMap(
  v: unknown,
  keep: (key: string) => boolean = () => true,
): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  let empty = true;
  for (const [k, value] of Object.entries(obj(v) ?? {}))
    if (typeof value === 'string' && keep(k)) {
      out[k] = value;
      empty = false;
    }
  return empty ? noEntries : out;
}

/**
 * Every pod is kept for as long as it runs, and thousands of them name the
 * same few hundred images, owners and namespaces; each parsed pod brings its
 * own copy of those strings (and each parse of an image its own reference
 * object). These tables hand out one copy per distinct value. Bounded: a
 * table is emptied when full, so a cluster's churn of images and owners
 * cannot grow it — a value seen again afterwards is simply shared anew.
 */
const maxShared = 8192;
const sharedStrings = new Map<string, string>();
const sharedImages = new Map<string, { readonly image: string; readonly reference?: ImageReference }>();

function shared(value: string): string {
  const found = sharedStrings.get(value);
  if (found !== undefined) return found;
  if (sharedStrings.size >= maxShared) sharedStrings.clear();
  sharedStrings.set(value, value);
  return value;
}

/** The spec image in canonical form and parsed (see TrimmedContainer), shared by the pods that name it. */
function specImage(image: string): { readonly image: string; readonly reference?: ImageReference } {
  const found = sharedImages.get(image);
  if (found !== undefined) return found;
  const reference = specReference(image);
  const parsed = reference === undefined ? { image } : { image: formatReference(reference), reference };
  if (sharedImages.size >= maxShared) sharedImages.clear();
  sharedImages.set(image, parsed);
  return parsed;
}

function stateOf(status: Json | undefined): TrimmedContainer['state'] {
  const state = obj(status?.['state']);
  if (state?.['running'] !== undefined) return 'running';
  if (state?.['terminated'] !== undefined) return 'terminated';
  if (state?.['waiting'] !== undefined) return 'waiting';
  return 'unknown';
}

function specReference(image: string): ImageReference | undefined {
  try {
    return parseReference(image);
  } catch {
    return undefined; // the API server accepts any image text; such a container is judged by its imageID alone
  }
}

function containersOf(spec: Json | undefined, status: Json | undefined): TrimmedContainer[] {
  const out: TrimmedContainer[] = [];
  const groups: [string, string, (c: Json) => ContainerKind][] = [
    ['containers', 'containerStatuses', () => 'container'],
    // A restartable init container (restartPolicy: Always) is a sidecar: it runs beside the app.
    [
      'initContainers',
      'initContainerStatuses',
      (c) => (c['restartPolicy'] === 'Always' ? 'sidecar' : 'init'),
    ],
    ['ephemeralContainers', 'ephemeralContainerStatuses', () => 'ephemeral'],
  ];
  for (const [specField, statusField, kindOf] of groups) {
    const statuses = new Map<string, Json>();
    for (const s of arr(status?.[statusField])) {
      const name = str(obj(s)?.['name']);
      if (name !== undefined) statuses.set(name, obj(s) ?? {});
    }
    for (const c of arr(spec?.[specField])) {
      const container = obj(c);
      const name = str(container?.['name']);
      const image = str(container?.['image']);
      if (container === undefined || name === undefined || image === undefined) continue;
      const s = statuses.get(name);
      const imageID = str(s?.['imageID']);
      const { image: canonical, reference } = specImage(image);
      out.push({
        name: shared(name),
        kind: kindOf(container),
        image: canonical,
        ...(reference === undefined ? {} : { reference }),
        ...(imageID === undefined ? {} : { imageID: shared(imageID) }),
        state: stateOf(s),
      });
    }
  }
  // An array grown by push keeps room for 17 entries; a pod has one or two containers.
  return out.slice();
}

/** Names of a `[{name}]` list of LocalObjectReferences (imagePullSecrets). */
export function secretNames(v: unknown): string[] {
  return arr(v).flatMap((r) => {
    const name = str(obj(r)?.['name']);
    return name === undefined ? [] : [name];
  });
}

/** The controlling owner (`ownerReferences[controller=true]`) named in an object's metadata, if any. */
export function controllerOf(metadata: unknown): { kind: string; name: string } | undefined {
  const ref = arr(obj(metadata)?.['ownerReferences'])
    .map(obj)
    .find((o) => o?.['controller'] === true);
  const kind = str(ref?.['kind']);
  const name = str(ref?.['name']);
  return kind === undefined || name === undefined ? undefined : { kind, name };
}

/** The trimmed form of a Pod object from the API; undefined for something that is not a pod. */
export function trimPod(raw: unknown): TrimmedPod | undefined {
  const pod = obj(raw);
  const meta = obj(pod?.['metadata']);
  const namespace = str(meta?.['namespace']);
  const name = str(meta?.['name']);
  if (meta === undefined || namespace === undefined || name === undefined) return undefined;
  const spec = obj(pod?.['spec']);
  const status = obj(pod?.['status']);
  const owner = controllerOf(meta);
  const priorityClassName = str(spec?.['priorityClassName']);
  const nodeName = str(spec?.['nodeName']);
  const created = str(meta['creationTimestamp']);
  return {
    namespace: shared(namespace),
    name,
    uid: str(meta['uid']) ?? '',
    // Only a time the API server could have written; anything else is dropped, not echoed.
    ...(created !== undefined && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(created)
      ? { createdAt: created }
      : {}),
    labels: stringMap(meta['labels']),
    annotations: stringMap(meta['annotations'], (k) => k.startsWith('sigwatch.dev/')),
    phase: shared(str(status?.['phase']) ?? 'Unknown'),
    ...(owner === undefined ? {} : { owner: { kind: shared(owner.kind), name: shared(owner.name) } }),
    ...(priorityClassName === undefined ? {} : { priorityClassName }),
    deleting: meta['deletionTimestamp'] !== undefined && meta['deletionTimestamp'] !== null,
    mirror: obj(meta['annotations'])?.['kubernetes.io/config.mirror'] !== undefined,
    containers: containersOf(spec, status),
    pullSecrets: secretNames(spec?.['imagePullSecrets']),
    serviceAccount: shared(str(spec?.['serviceAccountName']) ?? 'default'),
    ...(nodeName === undefined || nodeName === '' ? {} : { nodeName: shared(nodeName) }),
  };
}

/** What the node reports a container runs, resolved to a repository and manifest digest. */
export type ReportedImage =
  | {
      readonly kind: 'digest';
      readonly registry: string;
      readonly repository: string;
      readonly digest: Digest;
    }
  /** No imageID yet: judged only once the kubelet reports one. */
  | { readonly kind: 'pending' }
  /** `sha256:<config>` or otherwise not tied to a manifest in a repository: DigestUnresolved. */
  | { readonly kind: 'unresolved'; readonly message: string };

/** Resolves `imageID` (reference.ts `parseImageId`); a bare config digest names nothing in a registry. */
export function reportedImage(container: TrimmedContainer): ReportedImage {
  if (container.imageID === undefined) return { kind: 'pending' };
  try {
    const info = parseImageId(container.imageID);
    if (info.kind === 'configDigest') {
      return { kind: 'unresolved', message: `imageID ${container.imageID} names a config, not a manifest` };
    }
    const { registry, repository, digest } = info.reference;
    return { kind: 'digest', registry, repository, digest };
  } catch {
    return { kind: 'unresolved', message: `imageID ${container.imageID} is not an image reference` };
  }
}

/** Whether a verdict about this container may lead to a label or an eviction (design §4.1). */
export function actionable(pod: TrimmedPod, container: TrimmedContainer): boolean {
  if (pod.phase !== 'Running' || pod.deleting) return false;
  return (container.kind === 'container' || container.kind === 'sidecar') && container.state === 'running';
}

/** Succeeded and Failed pods are ignored altogether. */
export function inScope(pod: TrimmedPod): boolean {
  return pod.phase !== 'Succeeded' && pod.phase !== 'Failed';
}

/** `registry/repository`, the name policies' globs match (evidence.repository has the same form). */
export function imageName(image: { readonly registry: string; readonly repository: string }): string {
  return `${image.registry}/${image.repository}`;
}
