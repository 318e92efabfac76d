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
    schedule: { type: 'string', minLength: 1, maxLength: 128, description: 'Cron expression (cron-parser).' },
    timeZone: { type: 'string', maxLength: 64, description: 'IANA time zone; default UTC.' },
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
        when: { type: 'string', enum: ['Always', 'OnViolation', 'OnChange'] },
      },
    },
  },
};

const image = { type: 'string', maxLength: auditLimits.imageLength } as const satisfies JsonSchema;
const pod = {
  type: 'string',
  maxLength: auditLimits.podLength,
  description: 'namespace/name',
} as const satisfies JsonSchema;
const percent = { type: 'number', minimum: 0, maximum: 100 } as const satisfies JsonSchema;
const reasons: JsonSchema = {
  type: 'array',
  maxItems: definiteReasons.length + unknownReasons.length,
  items: { type: 'string', enum: [...definiteReasons, ...unknownReasons] },
};
const verdict: JsonSchema = { type: 'string', enum: ['Compliant', 'NonCompliant', 'Unknown', 'Exempt'] };
const counts = {
  images: count,
  signed: { ...count, description: 'Signed by an authority of a policy that matches the image.' },
  signedUntrusted: { ...count, description: 'Signed, but by no key or identity a matching policy trusts.' },
  withSbom: { ...count, description: 'With a signed SBOM attestation.' },
  compliant: count,
  nonCompliant: count,
  unknown: count,
  exempt: count,
  compliancePercent: { ...percent, description: '(compliant + exempt) / images × 100, one decimal.' },
} satisfies Record<string, JsonSchema>;

export const imageAuditStatus: JsonSchema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0 },
    conditions: conditionsWithKeys,
    lastScheduleTime: { ...time, description: 'The scheduled time of the last run, written when it starts.' },
    nextScheduleTime: time,
    lastCompletionTime: time,
    lastRunNow: {
      type: 'string',
      maxLength: auditLimits.runNowLength,
      description: 'The sigwatch.dev/run-now value last served (its sha256 when longer).',
    },
    lastResult: {
      type: 'object',
      description: 'The last successful run.',
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
        reportName: {
          ...name253,
          description: 'The ImageAuditReport in this namespace that holds the whole report (its part 0).',
        },
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
      description: 'The Alertmanager alert this audit keeps firing or last resolved.',
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

const items = (of: JsonSchema, description: string): JsonSchema => ({
  type: 'array',
  maxItems: auditLimits.itemsPerEntry,
  description,
  items: of,
});

const entry: JsonSchema = {
  type: 'object',
  required: ['image', 'verdict', 'signature', 'signedSbom'],
  properties: {
    image: { ...image, description: 'registry/repository@digest' },
    continued: {
      type: 'boolean',
      description:
        'This piece continues the entry before it (same image): its lists are the rest of that entry’s. Only entries too large for one part are split.',
    },
    verdict: { ...verdict, description: 'Over every policy that matches the image (all must pass).' },
    reasons: { ...reasons, description: 'Why the verdict is not Compliant (reason codes).' },
    signature: {
      type: 'string',
      enum: ['trusted', 'untrusted', 'unsigned', 'unknown'],
      description:
        'trusted: signed by an authority of a matching policy; untrusted: signed, but by no key or identity a matching policy trusts; unknown: not decided (the registry could not be read).',
    },
    signedSbom: { type: 'boolean', description: 'A signed SBOM attestation was verified.' },
    policies: items(name253, 'The ImagePolicies that match the image.'),
    references: items(image, 'How pod specs name the image.'),
    pods: items(pod, 'The running pods with the image.'),
  },
};

/** The whole object (`openAPIV3Schema`): see the header for why it has this shape. */
export const imageAuditReportSchema: JsonSchema = {
  type: 'object',
  description:
    'The report of one ImageAudit run, or one part of it. Part 0 is named like the report (ImageAudit.status.lastResult.reportName) and carries the summary and the part count; part n is named <report>-<n>. All parts are labelled sigwatch.dev/report=<report> and sigwatch.dev/part=<n>.',
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
    audit: { ...name253, description: 'The ImageAudit (in this namespace) whose run this is.' },
    time: { ...time, description: 'When the run started.' },
    part: {
      type: 'integer',
      minimum: 0,
      maximum: auditLimits.maxParts - 1,
      description: 'Which part this is; the same as the label sigwatch.dev/part.',
    },
    parts: { type: 'integer', minimum: 1, maximum: auditLimits.maxParts, description: 'Part 0 only.' },
    summary: {
      type: 'object',
      description: 'Part 0 only.',
      required: [...Object.keys(counts), 'result'],
      properties: {
        ...counts,
        result: {
          type: 'string',
          enum: reportResults,
          description:
            'NonCompliant if any image is, else Unknown if any image is undecided, else Compliant.',
        },
      },
    },
    entries: {
      type: 'array',
      maxItems: auditLimits.entriesPerPart,
      description: 'Every judged image: non-compliant first, then unknown, then by name.',
      items: entry,
    },
    unmatchedPods: {
      type: 'array',
      maxItems: auditLimits.unmatchedPodsPerPart,
      description: 'Running pods no policy selects.',
      items: pod,
    },
  },
};
