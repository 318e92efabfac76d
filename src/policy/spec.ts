/**
 * The `ImagePolicy` spec (design §2) as plain TypeScript, owned by the engine
 * because the CLI reads the same YAML the operator reads from the API server.
 *
 * `ImagePolicySpec` is the *defaulted* shape: every field that has a default
 * is present, and only fields whose absence means something (no selector, no
 * SBOM age rule…) stay optional. validate.ts produces it from untrusted input;
 * nothing else should build one by hand.
 *
 * `policyLimits` is the one table of `maxItems` / `maxLength` bounds; the CRD
 * schema is meant to be generated from the same numbers so `kubectl apply` and
 * `sigwatch verify --policy` refuse the same documents.
 */

export type PolicyMode = 'Audit' | 'Enforce';
export const policyModes: readonly PolicyMode[] = ['Audit', 'Enforce'];

/** For multi-platform images: which manifest must carry the signature. */
export type SignatureOn = 'index' | 'platform' | 'either';
export const signatureOnValues: readonly SignatureOn[] = ['index', 'platform', 'either'];

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export const labelSelectorOperators: readonly LabelSelectorOperator[] = [
  'In',
  'NotIn',
  'Exists',
  'DoesNotExist',
];

/** metav1.LabelSelectorRequirement: `values` only (and non-empty) for In / NotIn. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: LabelSelectorOperator;
  readonly values?: readonly string[];
}

/** metav1.LabelSelector; an empty selector matches everything. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

export interface ImageMatch {
  /** Globs over normalised `registry/repository` names (glob.ts); at least one. */
  readonly images: readonly string[];
  readonly namespaceSelector?: LabelSelector;
  /** May not use `sigwatch.dev/*` keys: the operator's own labels must not decide what it judges. */
  readonly podSelector?: LabelSelector;
  readonly excludeNamespaces: readonly string[];
  readonly includeSystemNamespaces: boolean;
  readonly signatureOn: SignatureOn;
}

/**
 * Keyless (Fulcio) signer: issuer and subject each exactly or by RE2 pattern
 * (exactly one of the two forms for each).
 */
export interface KeylessAuthority {
  readonly issuer?: string;
  readonly issuerRegExp?: string;
  readonly subjectRegExp?: string;
  readonly subject?: string;
  /** ConfigMap in the operator namespace holding trusted_root.json; default: the public-good root. */
  readonly trustedRootRef?: { readonly name: string };
}

/** Key-based signer: an inline PEM public key xor a Secret in the operator namespace. */
export interface KeyAuthority {
  readonly publicKey?: string;
  readonly secretRef?: { readonly name: string; readonly key: string };
}

/** One trusted signer; exactly one of `keyless` and `key` is set. */
export interface Authority {
  readonly name: string;
  readonly keyless?: KeylessAuthority;
  readonly key?: KeyAuthority;
  /** Default: true for keyless, false for key (cosign `--key` signing often skips the log). */
  readonly requireTransparencyLog: boolean;
  /** Where signatures live when not next to the image (COSIGN_REPOSITORY). */
  readonly source?: { readonly repository: string };
}

export interface ProvenanceRule {
  readonly builderIdRegExp: string;
  /** Accepted source repository URIs; empty means any. */
  readonly sourceRepositories: readonly string[];
  readonly buildType?: string;
}

export interface AttestationRule {
  readonly name: string;
  /** As written: an absolute URI or a formats.md §6 shortcut (resolvePredicateType). */
  readonly predicateType: string;
  /** Only for SLSA provenance predicate types. */
  readonly provenance?: ProvenanceRule;
}

export interface DeniedPackage {
  /** A purl without version; `versions` narrows it. */
  readonly purl: string;
  /** A range (sbom/range.ts) in the purl type's version scheme; absent means every version. */
  readonly versions?: string;
}

export type UnparseableVersionAction = 'ignore' | 'deny';
export const unparseableVersionActions: readonly UnparseableVersionAction[] = ['ignore', 'deny'];

export interface SbomRule {
  readonly required: boolean;
  /** Go duration; absent means SBOM age is not checked. */
  readonly maxAge?: string;
  readonly deny: { readonly packages: readonly DeniedPackage[]; readonly licenses: readonly string[] };
  readonly onUnparseableVersion: UnparseableVersionAction;
}

export interface PolicyException {
  readonly images: readonly string[];
  readonly reason: string;
  /** RFC 3339 timestamp; past it the exception no longer applies. */
  readonly expires: string;
}

/** Owner kinds whose pods are also evicted; `None` means bare pods. */
export type EvictableKind = 'DaemonSet' | 'Job' | 'None';
export const evictableKinds: readonly EvictableKind[] = ['DaemonSet', 'Job', 'None'];

export interface EvictAction {
  readonly enabled: boolean;
  readonly noncompliantFor: string;
  readonly maxPerHour: number;
  readonly perOwnerInterval: string;
  readonly includeKinds: readonly EvictableKind[];
  readonly maxNewViolationsPercent: number;
}

export interface PolicyActions {
  readonly label: boolean;
  readonly evict: EvictAction;
}

/** What an admission request gets when the policy's verdict is Unknown (registry down, timeout). */
export type AdmissionUnknown = 'Deny' | 'Allow';
export const admissionUnknownValues: readonly AdmissionUnknown[] = ['Deny', 'Allow'];

/**
 * The policy at admission (the webhook): `mode` decides what a definite
 * failure does there too — Enforce refuses, Audit admits with a warning.
 */
export interface AdmissionSettings {
  /** Judge pods and pod templates at admission; false: only what runs is judged. */
  readonly enabled: boolean;
  /** Enforce mode only: refuse (`Deny`) or admit with a warning (`Allow`) when the verdict is Unknown. */
  readonly onUnknown: AdmissionUnknown;
  /** Rewrite each tag this policy matches to the digest that was judged (pods only). */
  readonly pinDigests: boolean;
}

export interface ImagePolicySpec {
  readonly mode: PolicyMode;
  readonly match: ImageMatch;
  /** At least one; alternatives (any one satisfies the signature check). */
  readonly authorities: readonly Authority[];
  readonly attestations: readonly AttestationRule[];
  readonly sbom: SbomRule;
  readonly exceptions: readonly PolicyException[];
  readonly actions: PolicyActions;
  readonly admission: AdmissionSettings;
  readonly reverifyInterval: string;
}

/**
 * Defaults applied to absent fields. Audit mode and label-only actions are the
 * safe side: a policy never evicts unless someone wrote `enabled: true`.
 */
export const policyDefaults = {
  mode: 'Audit',
  match: { excludeNamespaces: [], includeSystemNamespaces: false, signatureOn: 'either' },
  requireTransparencyLog: { keyless: true, key: false },
  sbom: { required: false, onUnparseableVersion: 'ignore' },
  actions: {
    label: true,
    evict: {
      enabled: false,
      noncompliantFor: '10m',
      maxPerHour: 20,
      perOwnerInterval: '10m',
      includeKinds: [],
      maxNewViolationsPercent: 10,
    },
  },
  // Like policy-controller and Kyverno: an image that cannot be verified at deploy time is not deployed.
  admission: { enabled: true, onUnknown: 'Deny', pinDigests: false },
  reverifyInterval: '1h',
} as const satisfies {
  mode: PolicyMode;
  match: Omit<ImageMatch, 'images'>;
  requireTransparencyLog: { keyless: boolean; key: boolean };
  sbom: Omit<SbomRule, 'deny'>;
  actions: PolicyActions;
  admission: AdmissionSettings;
  reverifyInterval: string;
};

/** A bound from the schema: `maxItems` for lists and maps, `maxLength` for strings. */
export interface Limit {
  readonly maxItems?: number;
  readonly maxLength?: number;
}

/**
 * Every list and string bound, keyed by schema path below `spec` (`[]` = each
 * item, `{}` = each map key, `{}=` = each map value). Lengths count Unicode
 * code points, as OpenAPI `maxLength` does. Chosen to fit any sane policy
 * with room to spare while keeping one object well under etcd's 1.5 MiB and
 * the validator's work bounded.
 */
export const policyLimits = {
  'match.images': { maxItems: 64 },
  'match.images[]': { maxLength: 512 },
  'match.excludeNamespaces': { maxItems: 256 },
  'match.excludeNamespaces[]': { maxLength: 63 },
  'selector.matchLabels': { maxItems: 64 },
  'selector.matchLabels{}': { maxLength: 317 },
  'selector.matchLabels{}=': { maxLength: 63 },
  'selector.matchExpressions': { maxItems: 32 },
  'selector.matchExpressions[].key': { maxLength: 317 },
  'selector.matchExpressions[].values': { maxItems: 64 },
  'selector.matchExpressions[].values[]': { maxLength: 63 },
  authorities: { maxItems: 16 },
  'authorities[].name': { maxLength: 63 },
  'authorities[].keyless.issuer': { maxLength: 1024 },
  'authorities[].keyless.issuerRegExp': { maxLength: 1024 },
  'authorities[].keyless.subject': { maxLength: 1024 },
  'authorities[].keyless.subjectRegExp': { maxLength: 1024 },
  'authorities[].keyless.trustedRootRef.name': { maxLength: 253 },
  'authorities[].key.publicKey': { maxLength: 16384 },
  'authorities[].key.secretRef.name': { maxLength: 253 },
  'authorities[].key.secretRef.key': { maxLength: 253 },
  'authorities[].source.repository': { maxLength: 512 },
  attestations: { maxItems: 16 },
  'attestations[].name': { maxLength: 63 },
  'attestations[].predicateType': { maxLength: 512 },
  'attestations[].provenance.builderIdRegExp': { maxLength: 1024 },
  'attestations[].provenance.sourceRepositories': { maxItems: 64 },
  'attestations[].provenance.sourceRepositories[]': { maxLength: 512 },
  'attestations[].provenance.buildType': { maxLength: 512 },
  'sbom.deny.packages': { maxItems: 256 },
  'sbom.deny.packages[].purl': { maxLength: 512 },
  'sbom.deny.packages[].versions': { maxLength: 256 },
  'sbom.deny.licenses': { maxItems: 256 },
  'sbom.deny.licenses[]': { maxLength: 128 },
  exceptions: { maxItems: 64 },
  'exceptions[].images': { maxItems: 64 },
  'exceptions[].images[]': { maxLength: 512 },
  'exceptions[].reason': { maxLength: 1024 },
  'exceptions[].expires': { maxLength: 64 },
  'actions.evict.includeKinds': { maxItems: 3 },
  duration: { maxLength: 64 },
} as const satisfies Record<string, Limit>;

export type LimitKey = keyof typeof policyLimits;
