/**
 * The OpenAPI v3 schema of `ImagePolicy.spec` for the CRD, built from the
 * same tables the validator uses (`policyLimits`, the enum lists, the
 * defaults), so `kubectl apply` and `sigwatch verify --policy` refuse the
 * same documents wherever the API server can judge them. What it cannot —
 * RE2 syntax, PEM keys, purls and version ranges, glob syntax — is checked
 * by the validator when the operator reads the object, which then reports
 * `Ready=False` with the field path (design §6).
 *
 * CEL rules (`x-kubernetes-validations`) cover what admission can check
 * beyond types: exclusive fields, duration syntax, the reserved label
 * prefix. Every list and string is bounded so the rules' cost is bounded.
 */
import {
  admissionUnknownValues,
  evictableKinds,
  labelSelectorOperators,
  policyLimits,
  policyModes,
  signatureOnValues,
  unparseableVersionActions,
  type Limit,
  type LimitKey,
} from './spec.js';
import { applyDefaults, schemaDefaults } from './schema-defaults.js';

/** The subset of OpenAPI v3 (structural schema) the CRD uses. */
export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema;
  enum?: readonly string[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  minLength?: number;
  maxItems?: number;
  maxLength?: number;
  maxProperties?: number;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

/** Go duration syntax (duration.ts), unsigned; `0` alone is allowed. */
export const durationPattern = '^(0|([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$';

function str(limit: LimitKey, extra: Partial<JsonSchema> = {}): JsonSchema {
  return { type: 'string', ...policyLimits[limit], ...extra };
}

function list(limit: LimitKey, items: JsonSchema, extra: Partial<JsonSchema> = {}): JsonSchema {
  const bound: Limit = policyLimits[limit];
  return {
    type: 'array',
    ...(bound.maxItems === undefined ? {} : { maxItems: bound.maxItems }),
    items,
    ...extra,
  };
}

function object(properties: Record<string, JsonSchema>, extra: Partial<JsonSchema> = {}): JsonSchema {
  return { type: 'object', properties, ...extra };
}

/** A Go duration; its description comes from field-docs.ts as every field's does. */
function duration(): JsonSchema {
  return { type: 'string', maxLength: policyLimits.duration.maxLength, pattern: durationPattern };
}

const exactlyOne = (a: string, b: string): { rule: string; message: string } => ({
  rule: `has(self.${a}) != has(self.${b})`,
  message: `set exactly one of ${a} or ${b}`,
});

/**
 * metav1.LabelSelector. `reservedKeys: false` forbids `sigwatch.dev/*` keys
 * (a pod selector must not depend on the labels Sigwatch itself writes).
 */
export function labelSelectorSchema(reservedKeys: boolean): JsonSchema {
  const keyRule = reservedKeys
    ? []
    : [
        {
          rule: "!self.startsWith('sigwatch.dev/')",
          message: 'sigwatch.dev/* labels are set by Sigwatch and may not select pods',
        },
      ];
  return object({
    matchLabels: {
      type: 'object',
      maxProperties: policyLimits['selector.matchLabels'].maxItems,
      additionalProperties: str('selector.matchLabels{}='),
      ...(reservedKeys
        ? {}
        : {
            'x-kubernetes-validations': [
              {
                rule: "self.all(k, !k.startsWith('sigwatch.dev/'))",
                message: 'sigwatch.dev/* labels are set by Sigwatch and may not select pods',
              },
            ],
          }),
    },
    matchExpressions: list(
      'selector.matchExpressions',
      object(
        {
          key: str(
            'selector.matchExpressions[].key',
            keyRule.length > 0 ? { 'x-kubernetes-validations': keyRule } : {},
          ),
          operator: { type: 'string', enum: labelSelectorOperators },
          values: list('selector.matchExpressions[].values', str('selector.matchExpressions[].values[]')),
        },
        {
          required: ['key', 'operator'],
          'x-kubernetes-validations': [
            {
              rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
              message: 'In and NotIn need values; Exists and DoesNotExist take none',
            },
          ],
        },
      ),
    ),
  });
}

/** `ImagePolicy.spec`, with the defaults of `policyDefaults` (schema-defaults.ts). */
export function imagePolicySpecSchema(): JsonSchema {
  const spec = object(
    {
      mode: { type: 'string', enum: policyModes },
      match: object(
        {
          images: list('match.images', str('match.images[]', { minLength: 1 }), { minItems: 1 }),
          namespaceSelector: labelSelectorSchema(true),
          podSelector: labelSelectorSchema(false),
          excludeNamespaces: list(
            'match.excludeNamespaces',
            str('match.excludeNamespaces[]', { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
          ),
          includeSystemNamespaces: { type: 'boolean' },
          signatureOn: { type: 'string', enum: signatureOnValues },
        },
        { required: ['images'] },
      ),
      authorities: list(
        'authorities',
        object(
          {
            name: str('authorities[].name', { minLength: 1 }),
            keyless: object(
              {
                issuer: str('authorities[].keyless.issuer', { minLength: 1 }),
                issuerRegExp: str('authorities[].keyless.issuerRegExp', { minLength: 1 }),
                subject: str('authorities[].keyless.subject', { minLength: 1 }),
                subjectRegExp: str('authorities[].keyless.subjectRegExp', { minLength: 1 }),
                trustedRootRef: object(
                  { name: str('authorities[].keyless.trustedRootRef.name', { minLength: 1 }) },
                  { required: ['name'] },
                ),
              },
              {
                'x-kubernetes-validations': [
                  exactlyOne('issuer', 'issuerRegExp'),
                  exactlyOne('subject', 'subjectRegExp'),
                ],
              },
            ),
            key: object(
              {
                publicKey: str('authorities[].key.publicKey', { minLength: 1 }),
                secretRef: object(
                  {
                    name: str('authorities[].key.secretRef.name', { minLength: 1 }),
                    key: str('authorities[].key.secretRef.key', { minLength: 1 }),
                  },
                  { required: ['name', 'key'] },
                ),
              },
              { 'x-kubernetes-validations': [exactlyOne('publicKey', 'secretRef')] },
            ),
            requireTransparencyLog: { type: 'boolean' },
            source: object(
              { repository: str('authorities[].source.repository', { minLength: 1 }) },
              { required: ['repository'] },
            ),
          },
          { required: ['name'], 'x-kubernetes-validations': [exactlyOne('key', 'keyless')] },
        ),
        {
          minItems: 1,
          'x-kubernetes-validations': [
            {
              rule: 'self.all(a, self.exists_one(b, b.name == a.name))',
              message: 'authority names must be unique',
            },
          ],
        },
      ),
      attestations: list(
        'attestations',
        object(
          {
            name: str('attestations[].name', { minLength: 1 }),
            predicateType: str('attestations[].predicateType', { minLength: 1 }),
            provenance: object(
              {
                builderIdRegExp: str('attestations[].provenance.builderIdRegExp', { minLength: 1 }),
                sourceRepositories: list(
                  'attestations[].provenance.sourceRepositories',
                  str('attestations[].provenance.sourceRepositories[]', { minLength: 1 }),
                ),
                buildType: str('attestations[].provenance.buildType'),
              },
              { required: ['builderIdRegExp'] },
            ),
          },
          { required: ['name', 'predicateType'] },
        ),
        {
          'x-kubernetes-validations': [
            {
              rule: 'self.all(a, self.exists_one(b, b.name == a.name))',
              message: 'attestation names must be unique',
            },
          ],
        },
      ),
      sbom: object({
        required: { type: 'boolean' },
        maxAge: {
          ...duration(),
          'x-kubernetes-validations': [
            { rule: "duration(self) > duration('0s')", message: 'maxAge must be positive' },
          ],
        },
        deny: object({
          packages: list(
            'sbom.deny.packages',
            object(
              {
                purl: str('sbom.deny.packages[].purl', { minLength: 1 }),
                versions: str('sbom.deny.packages[].versions', { minLength: 1 }),
              },
              { required: ['purl'] },
            ),
          ),
          licenses: list('sbom.deny.licenses', str('sbom.deny.licenses[]', { minLength: 1 })),
        }),
        onUnparseableVersion: { type: 'string', enum: unparseableVersionActions },
      }),
      exceptions: list(
        'exceptions',
        object(
          {
            images: list('exceptions[].images', str('exceptions[].images[]', { minLength: 1 }), {
              minItems: 1,
            }),
            reason: str('exceptions[].reason', { minLength: 1 }),
            expires: str('exceptions[].expires', { format: 'date-time' }),
          },
          { required: ['images', 'reason', 'expires'] },
        ),
      ),
      actions: object({
        label: { type: 'boolean' },
        evict: object({
          enabled: { type: 'boolean' },
          noncompliantFor: duration(),
          maxPerHour: { type: 'integer', minimum: 0, maximum: 10_000 },
          perOwnerInterval: duration(),
          includeKinds: list(
            'actions.evict.includeKinds',
            { type: 'string', enum: evictableKinds },
            {
              'x-kubernetes-list-type': 'set',
            },
          ),
          maxNewViolationsPercent: { type: 'integer', minimum: 0, maximum: 100 },
        }),
      }),
      admission: object({
        enabled: { type: 'boolean' },
        onUnknown: { type: 'string', enum: admissionUnknownValues },
        pinDigests: { type: 'boolean' },
      }),
      reverifyInterval: {
        ...duration(),
        'x-kubernetes-validations': [
          { rule: "duration(self) >= duration('1m')", message: 'reverifyInterval must be at least 1m' },
        ],
      },
    },
    { required: ['match', 'authorities'] },
  );
  return applyDefaults(spec, schemaDefaults());
}
