/**
 * The OpenAPI schemas of `ImageAudit` (spec and status) and
 * `ImageAuditReport`, with the bounds the operator's code keeps
 * (auditLimits), so what the operator writes is always accepted and what
 * anyone else writes is bounded the same way. crds.ts makes CRDs of them.
 *
 * Why an ImageAuditReport looks the way it does:
 * - Top-level fields, no spec/status: a report is a record written once, not
 *   a desired state something converges to (the Kubernetes policy working
 *   group's PolicyReport has its summary and results at the top too). It has
 *   no status subresource.
 * - Typed fields, not a compressed blob: `kubectl get -o yaml`, `-o jsonpath`
 *   and `kubectl explain` show it, printer columns read the summary, and the
 *   API server enforces every bound below.
 * - Parts: etcd refuses values over 1.5 MiB, so a large report is several
 *   objects of at most 900 KiB. Part 0 is named like the report and alone
 *   carries the summary and the part count: one row per report in
 *   `kubectl get` shows the numbers (further parts, `<report>-<n>`, show
 *   none), and a reader needs part 0 to know what to fetch.
 * - Lists stay atomic (no list-type set/map): the managedFields the API
 *   server keeps then name each list once instead of every pod in it.
 */
import { notifyWhens } from '../../audit/spec.js';
import { definiteReasons, unknownReasons } from '../../base/reasons.js';
import { labelSelectorSchema, type JsonSchema } from '../../policy/schema.js';
import { policyLimits } from '../../policy/spec.js';
import { auditLimits, reportResults } from '../audits/report-parts.js';
import { conditionsWithKeys, count, name253, time } from './schema-parts.js';

const selector = labelSelectorSchema(true);

export const imageAuditSpec: JsonSchema = {
  type: 'object',
  required: ['schedule'],
  properties: {
    schedule: { type: 'string', minLength: 1, maxLength: 128 },
    timeZone: { type: 'string', maxLength: 64 },
    suspend: { type: 'boolean' },
    policies: { type: 'array', maxItems: 64, items: name253 },
    policySelector: selector,
    namespaceSelector: selector,
    historyLimit: { type: 'integer', minimum: 1, maximum: auditLimits.history },
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
        when: { type: 'string', enum: notifyWhens },
      },
    },
  },
};

const image = { type: 'string', maxLength: auditLimits.imageLength } as const satisfies JsonSchema;
/** namespace/name */
const pod = { type: 'string', maxLength: auditLimits.podLength } as const satisfies JsonSchema;
const percent = { type: 'number', minimum: 0, maximum: 100 } as const satisfies JsonSchema;
const reasons: JsonSchema = {
  type: 'array',
  maxItems: definiteReasons.length + unknownReasons.length,
  items: { type: 'string', enum: [...definiteReasons, ...unknownReasons] },
};
const verdict: JsonSchema = { type: 'string', enum: ['Compliant', 'NonCompliant', 'Unknown', 'Exempt'] };
const counts = {
  images: count,
  signed: count,
  signedUntrusted: count,
  withSbom: count,
  compliant: count,
  nonCompliant: count,
  unknown: count,
  exempt: count,
  compliancePercent: percent,
} satisfies Record<string, JsonSchema>;

export const imageAuditStatus: JsonSchema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0 },
    conditions: conditionsWithKeys,
    lastScheduleTime: time,
    nextScheduleTime: time,
    lastCompletionTime: time,
    lastRunNow: { type: 'string', maxLength: auditLimits.runNowLength },
    lastResult: {
      type: 'object',
      properties: {
        ...counts,
        nonCompliantImages: {
          type: 'array',
          maxItems: auditLimits.listed,
          items: {
            type: 'object',
            properties: {
              image,
              reasons,
              pods: { type: 'array', maxItems: auditLimits.podsPerListed, items: pod },
            },
          },
        },
        unsigned: { type: 'array', maxItems: auditLimits.listed, items: image },
        reportName: name253,
      },
    },
    history: {
      type: 'array',
      maxItems: auditLimits.history,
      items: {
        type: 'object',
        properties: { time, compliancePercent: percent, nonCompliant: count },
      },
    },
    alert: {
      type: 'object',
      properties: {
        firing: { type: 'boolean' },
        startsAt: time,
        severity: { type: 'string', enum: ['critical', 'warning'] },
        summary: { type: 'string', maxLength: auditLimits.summaryLength },
        report: name253,
        nonCompliant: count,
        unknown: count,
      },
    },
  },
};

const items = (of: JsonSchema): JsonSchema => ({
  type: 'array',
  maxItems: auditLimits.itemsPerEntry,
  items: of,
});

const entry: JsonSchema = {
  type: 'object',
  required: ['image', 'verdict', 'signature', 'signedSbom'],
  properties: {
    image,
    continued: { type: 'boolean' },
    verdict,
    reasons,
    signature: { type: 'string', enum: ['trusted', 'untrusted', 'unsigned', 'unknown'] },
    signedSbom: { type: 'boolean' },
    policies: items(name253),
    references: items(image),
    pods: items(pod),
  },
};

/** The whole object (`openAPIV3Schema`): see the header for why it has this shape. */
export const imageAuditReportSchema: JsonSchema = {
  type: 'object',
  required: ['audit', 'time', 'part'],
  'x-kubernetes-validations': [
    {
      rule: 'self.part == 0 ? has(self.parts) && has(self.summary) : !has(self.parts) && !has(self.summary)',
      message: 'part 0, and only part 0, carries parts and summary',
    },
  ],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
    audit: name253,
    time,
    part: { type: 'integer', minimum: 0, maximum: auditLimits.maxParts - 1 },
    parts: { type: 'integer', minimum: 1, maximum: auditLimits.maxParts },
    summary: {
      type: 'object',
      required: [...Object.keys(counts), 'result'],
      properties: {
        ...counts,
        result: { type: 'string', enum: reportResults },
      },
    },
    entries: {
      type: 'array',
      maxItems: auditLimits.entriesPerPart,
      items: entry,
    },
    unmatchedPods: {
      type: 'array',
      maxItems: auditLimits.unmatchedPodsPerPart,
      items: pod,
    },
  },
};
