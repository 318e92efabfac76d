/**
 * What the aggregator and kubectl ask before any resource: the group's
 * discovery documents (legacy form: the aggregator falls back to it when
 * `/apis` is not the aggregated kind) and OpenAPI v2 and v3 with a schema
 * per kind, so `kubectl api-resources`, `kubectl explain` and the
 * aggregator's merged spec are content. Static: built once.
 */
import { createHash } from 'node:crypto';
import { apiVersion, group, resources, version } from './resources.js';

const groupVersion = { groupVersion: apiVersion, version };

export const apiGroup = {
  kind: 'APIGroup',
  apiVersion: 'v1',
  name: group,
  versions: [groupVersion],
  preferredVersion: groupVersion,
};

export const apiGroupList = { kind: 'APIGroupList', apiVersion: 'v1', groups: [apiGroup] };

export const apiResourceList = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: apiVersion,
  resources: Object.values(resources).map((r) => ({
    name: r.name,
    singularName: r.singularName,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: r.verbs,
    ...(r.shortNames === undefined ? {} : { shortNames: r.shortNames }),
    // `kubectl get sigwatch` lists these; a create-only kind in it would fail the whole command.
    ...(r.verbs.includes('list') ? { categories: ['sigwatch'] } : {}),
  })),
};

type Schema = Readonly<Record<string, unknown>>;
const str = (description: string): Schema => ({ type: 'string', description });
const strings = (description: string): Schema => ({ type: 'array', items: { type: 'string' }, description });
const verdict = (description: string): Schema => ({
  type: 'string',
  enum: ['Compliant', 'NonCompliant', 'Unknown', 'Exempt'],
  description,
});
const metadata: Schema = {
  type: 'object',
  description: 'Standard object metadata (name, namespace, uid, creationTimestamp).',
  properties: {
    name: str('The pod the verdict is about (ImageVerdict), or the image (RunningImage).'),
    namespace: str('The pod namespace (ImageVerdict only).'),
    uid: str('The pod UID.'),
    creationTimestamp: str('When the pod was created.'),
  },
};
const gvk = (kind: string): Schema => ({
  'x-kubernetes-group-version-kind': [{ group, version, kind }],
});

const imageVerdict: Schema = {
  type: 'object',
  description:
    "Sigwatch's verdict on each image a pod runs: the digest the node reports, judged against every ImagePolicy that selects the pod. Read-only, answered from the operator's memory.",
  properties: {
    apiVersion: str('inventory.sigwatch.dev/v1alpha1'),
    kind: str('ImageVerdict'),
    metadata,
    phase: str('The pod phase.'),
    containers: {
      type: 'array',
      description: 'One entry per container, init container, sidecar and ephemeral container.',
      items: {
        type: 'object',
        properties: {
          name: str('The container name.'),
          kind: str('container, init, sidecar or ephemeral.'),
          image: str('The image as the pod spec names it, canonical.'),
          digest: str('registry/repository@sha256:…, the digest the node reports it runs.'),
          status: {
            type: 'string',
            enum: ['Judged', 'Pending', 'DigestUnresolved', 'NotJudged'],
            description:
              'Judged; Pending: no digest reported yet; DigestUnresolved: the reported imageID names no manifest; NotJudged: no policy selects it.',
          },
          verdict: verdict('The worst effective verdict over the policies that judged it.'),
          reasons: strings('Stable reason codes of the policies that decided the verdict.'),
          stale: {
            type: 'boolean',
            description: 'Some policy shows an older definite verdict while its current check is Unknown.',
          },
          validUntil: str('When the earliest evidence behind the verdict expires (RFC 3339).'),
          policies: {
            type: 'array',
            description: 'Each ImagePolicy that judged this container.',
            items: {
              type: 'object',
              properties: {
                name: str('The ImagePolicy.'),
                verdict: verdict('Effective verdict (the last definite one while the current is Unknown).'),
                current: verdict('The verdict of the latest check.'),
                stale: { type: 'boolean', description: 'verdict is older than current.' },
                reasons: strings('Stable reason codes.'),
                message: str('The first finding, in words.'),
              },
            },
          },
        },
      },
    },
  },
  ...gvk('ImageVerdict'),
};

const runningImage: Schema = {
  type: 'object',
  description: 'A judged running digest: where it runs and its worst verdict per policy.',
  properties: {
    apiVersion: str('inventory.sigwatch.dev/v1alpha1'),
    kind: str('RunningImage'),
    metadata,
    image: str('registry/repository@sha256:…'),
    references: strings('How pod specs name it.'),
    pods: { type: 'integer', description: 'Pods running it.' },
    namespaces: strings('Namespaces it runs in.'),
    verdicts: {
      type: 'object',
      additionalProperties: verdict('Worst verdict under this policy.'),
      description: 'Worst verdict per ImagePolicy.',
    },
  },
  ...gvk('RunningImage'),
};

const packageQuery: Schema = {
  type: 'object',
  description:
    'Which running pods contain a package? Create one (nothing is stored): status lists the pods, in the namespaces where the caller may list imageverdicts, whose signed SBOMs contain it.',
  required: ['spec'],
  properties: {
    apiVersion: str('inventory.sigwatch.dev/v1alpha1'),
    kind: str('PackageQuery'),
    metadata,
    spec: {
      type: 'object',
      required: ['purl'],
      properties: {
        purl: str('Package URL without a version, e.g. pkg:maven/org.apache.logging.log4j/log4j-core.'),
        versions: str('Version range, e.g. "<2.17.1" or ">=2.0.0 <2.17.1"; absent: any version.'),
        namespaces: strings(
          'Where to search (1 to 50 namespaces, each one the caller may list imageverdicts in); absent: all namespaces, which needs that permission cluster-wide.',
        ),
      },
    },
    status: {
      type: 'object',
      properties: {
        pods: { type: 'integer', description: 'Distinct pods matched.' },
        matches: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              namespace: str('Pod namespace.'),
              pod: str('Pod name.'),
              container: str('Container name.'),
              image: str('The image as the pod spec names it.'),
              digest: str('registry/repository@digest it runs.'),
              purl: str("The component's purl as its SBOM spells it."),
              version: str('The version compared with the range.'),
              inRange: { description: 'true, or "unparseable" when the version cannot be compared.' },
              signed: {
                type: 'boolean',
                description: 'From a signed SBOM attestation (false: an unsigned attachment).',
              },
            },
          },
        },
      },
    },
  },
  ...gvk('PackageQuery'),
};

const listOf = (kind: string, item: string): Schema => ({
  type: 'object',
  description: `A list of ${item}.`,
  properties: {
    apiVersion: str(apiVersion),
    kind: str(`${kind}List`),
    metadata: { type: 'object' },
    items: { type: 'array', items: { $ref: `#/components/schemas/${prefix}.${item}` } },
  },
  ...gvk(`${kind}List`),
});

const prefix = 'dev.sigwatch.inventory.v1alpha1';
const schemas = {
  [`${prefix}.ImageVerdict`]: imageVerdict,
  [`${prefix}.ImageVerdictList`]: listOf('ImageVerdict', 'ImageVerdict'),
  [`${prefix}.RunningImage`]: runningImage,
  [`${prefix}.RunningImageList`]: listOf('RunningImage', 'RunningImage'),
  [`${prefix}.PackageQuery`]: packageQuery,
};

/**
 * One path per resource and scope, each operation tagged with its kind:
 * `kubectl explain` finds a resource's schema through these tags.
 */
function paths(ref: (name: string) => Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, Record<string, unknown>> = {};
  const op = (kind: string, action: string, schema: string, status: string): unknown => ({
    operationId: `${action}${kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group, version, kind },
    responses: { [status]: { description: 'OK', ...ref(schema) } },
  });
  const base = `/apis/${group}/${version}`;
  for (const r of Object.values(resources)) {
    const scopes = r.namespaced
      ? [`${base}/namespaces/{namespace}/${r.name}`, `${base}/${r.name}`]
      : [`${base}/${r.name}`];
    for (const path of scopes) {
      if (r.verbs.includes('list')) out[path] = { get: op(r.kind, 'list', `${prefix}.${r.kind}List`, '200') };
      if (r.verbs.includes('create')) out[path] = { post: op(r.kind, 'post', `${prefix}.${r.kind}`, '201') };
      if (r.verbs.includes('get') && path === scopes[0])
        out[`${path}/{name}`] = { get: op(r.kind, 'get', `${prefix}.${r.kind}`, '200') };
    }
  }
  return out;
}

const v3Doc = {
  openapi: '3.0.0',
  info: { title: 'Sigwatch inventory', version },
  paths: paths((name) => ({
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } },
  })),
  components: { schemas },
};
const v3Body = JSON.stringify(v3Doc);
const v3Hash = createHash('sha256').update(v3Body).digest('hex').slice(0, 32).toUpperCase();

export const openapiV3Path = `/openapi/v3/apis/${group}/${version}`;

export const openapi = {
  v3Root: {
    paths: { [`apis/${group}/${version}`]: { serverRelativeURL: `${openapiV3Path}?hash=${v3Hash}` } },
  },
  v3Body,
  /** v2 refers to `#/definitions/…`; the same schemas, re-pointed. */
  v2Body: JSON.stringify({
    swagger: '2.0',
    info: { title: 'Sigwatch inventory', version },
    paths: paths((name) => ({ schema: { $ref: `#/definitions/${name}` } })),
    definitions: (JSON.parse(v3Body.replaceAll('#/components/schemas/', '#/definitions/')) as typeof v3Doc)
      .components.schemas,
  }),
};

/** The discovery or OpenAPI document served at `path` (trailing slashes removed); undefined: none. */
export function discoveryDocument(path: string): unknown {
  switch (path) {
    case '/apis':
      return apiGroupList;
    case `/apis/${group}`:
      return apiGroup;
    case `/apis/${group}/${version}`:
      return apiResourceList;
    case '/openapi/v2':
      return openapi.v2Body;
    case '/openapi/v3':
      return openapi.v3Root;
    case openapiV3Path:
      return openapi.v3Body;
    default:
      return undefined;
  }
}
