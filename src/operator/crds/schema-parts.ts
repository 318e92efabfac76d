/**
 * Schema pieces every sigwatch.dev CRD shares (crds.ts, audit-schemas.ts):
 * bounded names and messages, counters, and metav1.Condition as the API
 * conventions define it. Apart from crds.ts so the audit schemas can use
 * them without an import cycle.
 */
import type { JsonSchema } from '../../policy/schema.js';

export const name253 = { type: 'string', maxLength: 253 } as const satisfies JsonSchema;
export const message = { type: 'string', maxLength: 32_768 } as const satisfies JsonSchema;
export const count = { type: 'integer', minimum: 0 } as const satisfies JsonSchema;
export const time = { type: 'string', format: 'date-time' } as const satisfies JsonSchema;

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
export const conditionsWithKeys = { ...conditions, 'x-kubernetes-list-map-keys': ['type'] };
