/**
 * The CustomResourceDefinitions of `sigwatch.dev/v1alpha1`, generated from
 * the engine's own schema (src/policy/schema.ts) so the CRD and the
 * validator cannot drift. `sigwatch crds` prints them; `crds/*.yaml` holds
 * the same output, checked by a test.
 */
import { imagePolicySpecSchema, labelSelectorSchema, type JsonSchema } from '../policy/schema.js';
import { policyLimits } from '../policy/spec.js';

export const group = 'sigwatch.dev';
export const version = 'v1alpha1';

const name253 = { type: 'string', maxLength: 253 } as const satisfies JsonSchema;
const message = { type: 'string', maxLength: 32_768 } as const satisfies JsonSchema;

/** metav1.Condition, as the API conventions define it. */
const conditions: JsonSchema = {
  type: 'array',
  maxItems: 16,
  'x-kubernetes-list-type': 'map',
  items: {
    type: 'object',
    required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
    properties: {
      type: { type: 'string', maxLength: 316 },
      status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
      observedGeneration: { type: 'integer', minimum: 0 },
      lastTransitionTime: { type: 'string', format: 'date-time' },
      reason: { type: 'string', maxLength: 1024, minLength: 1 },
      message,
    },
  },
};

// `x-kubernetes-list-map-keys` is not in JsonSchema's subset; conditions are keyed by type.
const conditionsWithKeys = { ...conditions, 'x-kubernetes-list-map-keys': ['type'] };

const count = { type: 'integer', minimum: 0 } as const satisfies JsonSchema;

const imagePolicyStatus: JsonSchema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0 },
    conditions: conditionsWithKeys,
    summary: {
      type: 'object',
      properties: {
        pods: count,
        images: count,
        compliant: count,
        nonCompliant: count,
        unknown: count,
        exempt: count,
      },
    },
    violations: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        properties: {
          namespace: name253,
          pod: name253,
          container: name253,
          image: { type: 'string', maxLength: 1024 },
          digest: { type: 'string', maxLength: 128 },
          reason: { type: 'string', maxLength: 64 },
          message,
          since: { type: 'string', format: 'date-time' },
        },
      },
    },
    evictions: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        properties: {
          time: { type: 'string', format: 'date-time' },
          namespace: name253,
          pod: name253,
          owner: { type: 'string', maxLength: 512 },
        },
      },
    },
    evictionsPaused: {
      type: 'object',
      description:
        'A tripped circuit breaker: evictions stay paused until the annotation sigwatch.dev/confirm-evictions names this generation or a later one.',
      properties: {
        generation: { type: 'integer', minimum: 0 },
        since: { type: 'string', format: 'date-time' },
        newlyNonCompliant: count,
        matchedPods: count,
        confirmationAtTrip: { type: 'string', maxLength: 256 },
      },
    },
  },
};

const selector = labelSelectorSchema(true);

const imageAuditSpec: JsonSchema = {
  type: 'object',
  required: ['schedule'],
  properties: {
    schedule: { type: 'string', minLength: 1, maxLength: 128, description: 'Cron expression (cron-parser).' },
    timeZone: { type: 'string', maxLength: 64, description: 'IANA time zone; default UTC.' },
    suspend: { type: 'boolean' },
    policies: { type: 'array', maxItems: 64, items: name253 },
    policySelector: selector,
    namespaceSelector: selector,
    historyLimit: { type: 'integer', minimum: 1, maximum: 100 },
    notify: {
      type: 'object',
      properties: {
        alertmanager: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string', maxLength: 2048, pattern: '^https?://' },
            labels: {
              type: 'object',
              maxProperties: policyLimits['selector.matchLabels'].maxItems,
              additionalProperties: { type: 'string', maxLength: 1024 },
            },
          },
        },
        when: { type: 'string', enum: ['Always', 'OnViolation', 'OnChange'] },
      },
    },
  },
};

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date';
  jsonPath: string;
  priority?: number;
}

function crd(
  kind: string,
  plural: string,
  scope: 'Cluster' | 'Namespaced',
  shortNames: string[],
  spec: JsonSchema,
  status: JsonSchema,
  columns: PrinterColumn[],
): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames,
        categories: ['sigwatch'],
      },
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

const summary = (field: string): string => `.status.summary.${field}`;

export function imagePolicyCrd(): object {
  return crd(
    'ImagePolicy',
    'imagepolicies',
    'Cluster',
    ['ipol'],
    imagePolicySpecSchema(),
    imagePolicyStatus,
    [
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
      { name: 'Pods', type: 'integer', jsonPath: summary('pods') },
      { name: 'Compliant', type: 'integer', jsonPath: summary('compliant') },
      { name: 'NonCompliant', type: 'integer', jsonPath: summary('nonCompliant') },
      { name: 'Unknown', type: 'integer', jsonPath: summary('unknown') },
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  );
}

export function imageAuditCrd(): object {
  return crd(
    'ImageAudit',
    'imageaudits',
    'Namespaced',
    ['iaudit'],
    imageAuditSpec,
    // The audit issue defines the status fields; until then the operator owns it whole.
    { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    [
      { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
      { name: 'Last', type: 'date', jsonPath: '.status.lastCompletionTime' },
      { name: 'Compliance', type: 'string', jsonPath: '.status.lastResult.compliancePercent' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  );
}

export function allCrds(): object[] {
  return [imagePolicyCrd(), imageAuditCrd()];
}
