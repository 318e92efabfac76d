/**
 * The pod template inside an admission request's object (issue 17): a Pod's
 * own spec, or the template of a Deployment, ReplicaSet, StatefulSet,
 * DaemonSet, Job or CronJob — so a refusal comes back at `kubectl apply` of
 * the Deployment, not in a ReplicaSet's Events. Only the built-in groups and
 * versions count: anything else in a request is not a workload we know and
 * is admitted untouched.
 *
 * The object is hostile input: every field is type-checked, and a template
 * with more containers than any real pod has is reported, not walked.
 */
import type { ContainerKind } from '../pod.js';
import { secretNames } from '../pod.js';
import { AdmissionError } from './errors.js';
import { asObject as obj, asString as str, type JsonObject as Json } from '../../base/json.js';

export interface TemplateContainer {
  readonly name: string;
  /** `volume`: an image volume (`spec.volumes[].image.reference`), whose content is mounted into containers. */
  readonly kind: Exclude<ContainerKind, 'sidecar'> | 'volume';
  /** The image as written. */
  readonly image: string;
  /** JSON Pointer of the image field in the request's object (for a pinning patch). */
  readonly pointer: string;
}

export interface PodTemplate {
  /** `Pod`, `Deployment`, …: what kubectl named. */
  readonly kind: string;
  readonly namespace: string;
  /** The object's name, or its generateName with `*` (a pod a controller is about to create). */
  readonly name: string;
  /** The pod's labels (the template's for a workload). */
  readonly labels: Readonly<Record<string, string>>;
  readonly containers: readonly TemplateContainer[];
  readonly pullSecrets: readonly string[];
  readonly serviceAccount: string;
}

/** group/version/kind → the path from the object to its pod spec's parent (`spec` lives below it). */
const templates: ReadonlyMap<string, readonly string[]> = new Map([
  ['/v1/Pod', []],
  ['apps/v1/Deployment', ['spec', 'template']],
  ['apps/v1/ReplicaSet', ['spec', 'template']],
  ['apps/v1/StatefulSet', ['spec', 'template']],
  ['apps/v1/DaemonSet', ['spec', 'template']],
  ['batch/v1/Job', ['spec', 'template']],
  ['batch/v1/CronJob', ['spec', 'jobTemplate', 'spec', 'template']],
]);

/** More containers and volumes than this in one template is no pod anyone runs; refused, not walked. */
export const maxTemplateContainers = 256;

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, value] of Object.entries(obj(v) ?? {})) if (typeof value === 'string') out[k] = value;
  return out;
}

const tooMany = (count: number): AdmissionError =>
  new AdmissionError(
    'TooManyContainers',
    `the pod template has ${String(count)} containers; at most ${String(maxTemplateContainers)} are judged`,
  );

/**
 * The template of `object` when `kind` (group, version, kind) is a workload
 * we judge; undefined otherwise.
 * @throws AdmissionError `TooManyContainers`
 */
export function podTemplate(
  kind: { readonly group: string; readonly version: string; readonly kind: string },
  namespace: string,
  object: unknown,
): PodTemplate | undefined {
  const path = templates.get(`${kind.group}/${kind.version}/${kind.kind}`);
  if (path === undefined) return undefined;
  const root = obj(object);
  const meta = obj(root?.['metadata']);
  let template: Json | undefined = root;
  for (const step of path) template = obj(template?.[step]);
  const spec = obj(template?.['spec']);
  const base = `/${[...path, 'spec'].join('/')}`;
  const containers: TemplateContainer[] = [];
  const groups = [
    ['containers', 'container'],
    ['initContainers', 'init'],
    ['ephemeralContainers', 'ephemeral'],
  ] as const;
  let count = 0;
  for (const [field, containerKind] of groups) {
    const list = spec?.[field];
    if (!Array.isArray(list)) continue;
    count += list.length;
    if (count > maxTemplateContainers) throw tooMany(count);
    list.forEach((c: unknown, i) => {
      const container = obj(c);
      const image = str(container?.['image']);
      // No image: the API server refuses the object itself (or a controller fills it); nothing to judge.
      if (image === undefined) return;
      containers.push({
        name: str(container?.['name']) ?? `${field}[${String(i)}]`,
        kind: containerKind,
        image,
        pointer: `${base}/${field}/${String(i)}/image`,
      });
    });
  }
  // Image volumes (ImageVolume): OCI content mounted into a container is judged like a container's image.
  const volumes = spec?.['volumes'];
  if (Array.isArray(volumes)) {
    count += volumes.length;
    if (count > maxTemplateContainers) throw tooMany(count);
    volumes.forEach((v: unknown, i) => {
      const volume = obj(v);
      const image = str(obj(volume?.['image'])?.['reference']);
      if (image === undefined) return;
      containers.push({
        name: str(volume?.['name']) ?? `volumes[${String(i)}]`,
        kind: 'volume',
        image,
        pointer: `${base}/volumes/${String(i)}/image/reference`,
      });
    });
  }
  const generateName = str(meta?.['generateName']);
  return {
    kind: kind.kind,
    namespace,
    name: str(meta?.['name']) ?? (generateName === undefined ? '' : `${generateName}*`),
    labels: labelsOf(obj(template?.['metadata'])?.['labels']),
    containers,
    pullSecrets: secretNames(spec?.['imagePullSecrets']),
    serviceAccount: str(spec?.['serviceAccountName']) ?? 'default',
  };
}
