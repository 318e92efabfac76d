/**
 * The CustomResourceDefinitions of `sigwatch.dev/v1alpha1`, generated from
 * the engine's own schema (src/policy/schema.ts) so the CRD and the
 * validator cannot drift. `sigwatch crds` prints them; `crds/*.yaml` holds
 * the same output, checked by a test.
 */
import { imagePolicySpecSchema, type JsonSchema } from '../../policy/schema.js';
import { describeSchema } from '../../policy/field-docs.js';
import { kindDocs } from './field-docs.js';
import { imageAuditReportSchema, imageAuditSpec, imageAuditStatus } from './image-audit.js';
import { conditionsWithKeys, count, message, name253 } from './schema-parts.js';

export const group = 'sigwatch.dev';
export const version = 'v1alpha1';

/**
 * A list of `violations` or `unknown`: at most 50 entries, each naming the
 * pod's container and what it runs, with `own` fields, a message and since when.
 */
const containerList = (own: Record<string, JsonSchema>): JsonSchema => ({
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
      ...own,
      message,
      since: { type: 'string', format: 'date-time' },
    },
  },
});

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
    violations: containerList({ reason: { type: 'string', maxLength: 64 }, stale: { type: 'boolean' } }),
    unknown: containerList({
      reasons: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 64 } },
    }),
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
          predicted: {
            type: 'object',
            properties: {
              controller: { type: 'string', maxLength: 512 },
              generation: { type: 'integer', minimum: 0 },
              reasons: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 64 } },
              images: {
                type: 'array',
                maxItems: 32,
                items: {
                  type: 'object',
                  properties: {
                    container: name253,
                    image: { type: 'string', maxLength: 1024 },
                    tagTarget: { type: 'string', maxLength: 128 },
                    nodeImage: { type: 'string', maxLength: 128 },
                  },
                },
              },
            },
          },
          loop: {
            type: 'object',
            properties: {
              time: { type: 'string', format: 'date-time' },
              pod: name253,
              digest: { type: 'string', maxLength: 128 },
            },
          },
        },
      },
    },
    evictionsPaused: {
      type: 'object',
      properties: {
        reason: { type: 'string', maxLength: 64 },
        generation: { type: 'integer', minimum: 0 },
        since: { type: 'string', format: 'date-time' },
        newlyNonCompliant: count,
        matchedPods: count,
        maxNewViolationsPercent: { type: 'integer', minimum: 0, maximum: 100 },
        confirmationAtTrip: { type: 'string', maxLength: 256 },
      },
    },
    evictionsConfirmed: {
      type: 'object',
      properties: {
        generation: { type: 'integer', minimum: 0 },
        time: { type: 'string', format: 'date-time' },
      },
    },
  },
};

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  priority?: number;
}

type Kind = keyof typeof kindDocs;

/**
 * A CRD of `sigwatch.dev/v1alpha1` with one served version whose schema is
 * `root`, every field described from field-docs.ts (what `kubectl explain` prints).
 */
function definition(
  kind: Kind,
  plural: string,
  scope: 'Cluster' | 'Namespaced',
  shortNames: string[],
  root: JsonSchema,
  columns: PrinterColumn[],
  statusSubresource: boolean,
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
          ...(statusSubresource ? { subresources: { status: {} } } : {}),
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: describeSchema(root, kindDocs[kind]) },
        },
      ],
    },
  };
}

/** A spec/status kind: the status written through its subresource. */
function crd(
  kind: Kind,
  plural: string,
  scope: 'Cluster' | 'Namespaced',
  shortNames: string[],
  spec: JsonSchema,
  status: JsonSchema,
  columns: PrinterColumn[],
): object {
  const root: JsonSchema = {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status,
    },
  };
  return definition(kind, plural, scope, shortNames, root, columns, true);
}

const summary = (field: string): string => `.status.summary.${field}`;
const condition = (type: string, field: string): string =>
  `.status.conditions[?(@.type=="${type}")].${field}`;

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
      { name: 'Exempt', type: 'integer', jsonPath: summary('exempt') },
      { name: 'Ready', type: 'string', jsonPath: condition('Ready', 'status') },
      { name: 'Reason', type: 'string', jsonPath: condition('Ready', 'reason'), priority: 1 },
      { name: 'EvictionsPaused', type: 'string', jsonPath: condition('EvictionsPaused', 'status') },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
  );
}

export function imageAuditCrd(): object {
  return crd('ImageAudit', 'imageaudits', 'Namespaced', ['iaudit'], imageAuditSpec, imageAuditStatus, [
    { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
    { name: 'Suspend', type: 'boolean', jsonPath: '.spec.suspend' },
    { name: 'Last', type: 'date', jsonPath: '.status.lastCompletionTime' },
    { name: 'Next', type: 'date', jsonPath: '.status.nextScheduleTime' },
    { name: 'Compliance', type: 'number', jsonPath: '.status.lastResult.compliancePercent' },
    { name: 'Report', type: 'string', jsonPath: '.status.lastResult.reportName', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ]);
}

/** Written by the operator only (no status subresource: a report is a record, see audit-schemas.ts). */
export function imageAuditReportCrd(): object {
  const of = (field: string): string => `.summary.${field}`;
  return definition(
    'ImageAuditReport',
    'imageauditreports',
    'Namespaced',
    ['iareport'],
    imageAuditReportSchema,
    [
      { name: 'Images', type: 'integer', jsonPath: of('images') },
      { name: 'Signed', type: 'integer', jsonPath: of('signed') },
      { name: 'Compliant', type: 'integer', jsonPath: of('compliant') },
      { name: 'Result', type: 'string', jsonPath: of('result') },
      { name: 'NonCompliant', type: 'integer', jsonPath: of('nonCompliant'), priority: 1 },
      { name: 'Unknown', type: 'integer', jsonPath: of('unknown'), priority: 1 },
      { name: 'Compliance', type: 'number', jsonPath: of('compliancePercent'), priority: 1 },
      { name: 'Parts', type: 'integer', jsonPath: '.parts', priority: 1 },
      { name: 'Audit', type: 'string', jsonPath: '.audit', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    false,
  );
}

export function allCrds(): object[] {
  return [imagePolicyCrd(), imageAuditCrd(), imageAuditReportCrd()];
}
