/**
 * One line for every field of `ImagePolicy.spec`: the one source of the
 * CRD's field descriptions (what `kubectl explain` prints) and of the
 * README's field table. Defaults are not written here: they are read from
 * `policyDefaults`, the table the validator applies, so a description can
 * never name a default the validator does not use.
 *
 * Paths start at the object's root (`spec.match.images`); `[]` is each item
 * of a list, `{}` each value of a map. A unit test fails for a schema field
 * without a line here and for a line that names no field.
 */
import type { JsonSchema } from './schema.js';
import { policyDefaults } from './spec.js';

/** Field path → one line, without the default (`describeSchema` adds it). */
export type FieldDocs = Readonly<Record<string, string>>;

/** What one kind's schema is described with. */
export interface KindDocs {
  /** Every field path, and `''` for the object itself. */
  readonly fields: FieldDocs;
  /** The default of the field at `path`, as text; undefined when it has none. */
  readonly defaultOf: (path: string) => string | undefined;
}

/** A default as a description says it: lists as their items, an empty one as "empty". */
export function defaultText(value: unknown): string | undefined {
  if (Array.isArray(value)) return value.length === 0 ? 'empty' : value.map(String).join(', ');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  return undefined; // an object: its fields carry their own defaults
}

/**
 * The default at `path` below `prefix` in a defaults table shaped like the
 * spec (`policyDefaults`); paths through list items have none there.
 */
export function defaultAt(defaults: object, prefix: string, path: string): string | undefined {
  if (!path.startsWith(prefix) || path.includes('[]') || path.includes('{}')) return undefined;
  let value: unknown = defaults;
  for (const key of path.slice(prefix.length).split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key))
      return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return defaultText(value);
}

/**
 * A copy of `schema` with the description of `docs` on the object itself and
 * on every property below it, each followed by its default. Everything else
 * (`default`, bounds, CEL rules) is kept as it is. A field without a line
 * keeps what it had: the unit test, not the generator, reports it.
 */
export function describeSchema(schema: JsonSchema, docs: KindDocs, path = ''): JsonSchema {
  const out: JsonSchema = { ...schema };
  const line = docs.fields[path];
  if (line !== undefined) {
    const value = docs.defaultOf(path);
    out.description = value === undefined ? line : `${line} Default: ${value}.`;
  }
  if (schema.properties !== undefined) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [
        k,
        describeSchema(v, docs, path === '' ? k : `${path}.${k}`),
      ]),
    );
  }
  if (schema.items !== undefined) out.items = describeSchema(schema.items, docs, `${path}[]`);
  if (schema.additionalProperties !== undefined)
    out.additionalProperties = describeSchema(schema.additionalProperties, docs, `${path}{}`);
  return out;
}

/** metav1.LabelSelector's fields under `path`. */
export function selectorDocs(path: string, what: string): Record<string, string> {
  return {
    [path]: what,
    [`${path}.matchLabels`]: 'Labels that must all be present, each with this value.',
    [`${path}.matchExpressions`]: 'Label requirements that must all hold.',
    [`${path}.matchExpressions[].key`]: 'The label key the requirement is about.',
    [`${path}.matchExpressions[].operator`]:
      'In and NotIn compare the label with values; Exists and DoesNotExist test the key alone.',
    [`${path}.matchExpressions[].values`]:
      'The values In and NotIn compare with (non-empty for those, absent otherwise).',
  };
}

const requireTransparencyLog = 'spec.authorities[].requireTransparencyLog';

/** A default of `ImagePolicy.spec`, from `policyDefaults`. */
export function imagePolicyDefault(path: string): string | undefined {
  // The one default that depends on something else: the authority's kind.
  if (path === requireTransparencyLog) {
    const d = policyDefaults.requireTransparencyLog;
    return `${String(d.keyless)} for keyless, ${String(d.key)} for key`;
  }
  return defaultAt(policyDefaults, 'spec.', path);
}

export const imagePolicySpecDocs: FieldDocs = {
  spec: 'What the policy judges (match), whom it trusts (authorities), what else it requires (attestations, sbom) and what it does about a failure (mode, actions, admission).',
  'spec.mode':
    'Audit: verdicts in status, metrics and Events only, never a change to a workload; Enforce: also labels and may evict pods (actions) and refuses NonCompliant images at admission.',
  'spec.match': 'Which pods’ images the policy judges.',
  'spec.match.images':
    'Globs over normalised registry/repository names, at least one: * stays within one path segment, ** crosses /.',
  ...selectorDocs(
    'spec.match.namespaceSelector',
    'Only pods in namespaces with these labels. Absent: every namespace.',
  ),
  ...selectorDocs(
    'spec.match.podSelector',
    'Only pods with these labels; sigwatch.dev/* keys are refused (Sigwatch writes them). Absent: every pod.',
  ),
  'spec.match.excludeNamespaces': 'Namespaces whose pods the policy never judges.',
  'spec.match.includeSystemNamespaces':
    'Also judge pods in kube-system, kube-public, kube-node-lease and the operator’s namespace.',
  'spec.match.signatureOn':
    'Multi-platform images: which manifest must be signed — index, platform (every runnable platform manifest) or either.',
  'spec.authorities':
    'Trusted signers, at least one, with unique names; alternatives: a valid signature from any one satisfies the signature check.',
  'spec.authorities[].name': 'Names the authority in verdict messages; unique in the policy.',
  'spec.authorities[].keyless':
    'A keyless (Fulcio certificate) signer, by OIDC issuer and certificate subject; set exactly one of keyless and key.',
  'spec.authorities[].keyless.issuer':
    'The OIDC issuer, exactly (e.g. https://token.actions.githubusercontent.com); set exactly one of issuer and issuerRegExp.',
  'spec.authorities[].keyless.issuerRegExp':
    'The OIDC issuer as an RE2 pattern; anchor it with ^…$ (an unanchored pattern matches inside longer issuers).',
  'spec.authorities[].keyless.subject':
    'The certificate subject (an email or a URI such as a workflow ref), exactly; set exactly one of subject and subjectRegExp.',
  'spec.authorities[].keyless.subjectRegExp':
    'The certificate subject as an RE2 pattern; anchor it with ^…$ (accepted with a warning in Ready otherwise).',
  'spec.authorities[].keyless.trustedRootRef':
    'A ConfigMap in the operator’s namespace whose key trusted_root.json is the Sigstore trusted root to use. Absent: the public-good root.',
  'spec.authorities[].keyless.trustedRootRef.name': 'The ConfigMap’s name.',
  'spec.authorities[].key':
    'A key-pair signer (cosign --key): set exactly one of publicKey and secretRef; set exactly one of key and keyless.',
  'spec.authorities[].key.publicKey': 'The public key, PEM, inline.',
  'spec.authorities[].key.secretRef':
    'A Secret in the operator’s namespace holding the PEM public key; a rotated key applies at once.',
  'spec.authorities[].key.secretRef.name': 'The Secret’s name.',
  'spec.authorities[].key.secretRef.key': 'The key in the Secret’s data whose value is the public key.',
  [requireTransparencyLog]:
    'Require a Rekor transparency-log entry for each signature (a verified SET, or an inclusion proof with a checkpoint).',
  'spec.authorities[].source':
    'Where this authority’s signatures are stored when not beside the image (cosign’s COSIGN_REPOSITORY).',
  'spec.authorities[].source.repository': 'The registry/repository that holds the signatures.',
  'spec.attestations':
    'In-toto attestations that must each be present and signed by one of the authorities; names are unique.',
  'spec.attestations[].name': 'Names the rule in verdict messages; unique in the policy.',
  'spec.attestations[].predicateType':
    'The predicate type: an absolute URI or a cosign --type shortcut (slsaprovenance1, spdxjson, cyclonedx, …; see sigwatch verify --help).',
  'spec.attestations[].provenance':
    'Rules over the attested SLSA provenance; only with a SLSA provenance predicateType.',
  'spec.attestations[].provenance.builderIdRegExp': 'An RE2 pattern the builder id must match.',
  'spec.attestations[].provenance.sourceRepositories':
    'Accepted URIs of the build’s own source repository (never its other materials). Empty: any.',
  'spec.attestations[].provenance.buildType': 'The buildType the provenance must name, exactly. Absent: any.',
  'spec.sbom':
    'Rules over the SBOMs (SPDX or CycloneDX) in attestations signed by one of this policy’s authorities; unsigned SBOMs are never read.',
  'spec.sbom.required': 'A signed SBOM attestation must be present (SbomMissing otherwise).',
  'spec.sbom.maxAge':
    'The oldest acceptable SBOM, as a Go duration, by its signed time or else its document time. Absent: age is not checked.',
  'spec.sbom.deny': 'Packages and licenses no SBOM of the image may contain.',
  'spec.sbom.deny.packages': 'Denied packages, each a package URL, optionally narrowed to a version range.',
  'spec.sbom.deny.packages[].purl':
    'A package URL without a version, e.g. pkg:maven/org.apache.logging.log4j/log4j-core.',
  'spec.sbom.deny.packages[].versions':
    'A version range in the package type’s own scheme, e.g. <2.17.1. Absent: every version.',
  'spec.sbom.deny.licenses':
    'Denied SPDX license ids; a package is denied when its license expression cannot avoid one (A OR B only when both are denied).',
  'spec.sbom.onUnparseableVersion':
    'When a package version cannot be compared with a range: ignore (Unknown, VersionUnparseable) or deny (SbomDeniedPackage).',
  'spec.exceptions': 'Documented, expiring exemptions: a covered image is Exempt, never NonCompliant.',
  'spec.exceptions[].images': 'Globs over registry/repository names, as in match.images.',
  'spec.exceptions[].reason': 'Why the images are exempt (a ticket, say); required.',
  'spec.exceptions[].expires': 'An RFC 3339 time; from then on the exception no longer applies.',
  'spec.actions':
    'What Enforce mode does to pods with a fresh, definite NonCompliant verdict (Audit mode does nothing).',
  'spec.actions.label':
    'Label the pods the policy selects sigwatch.dev/compliance=compliant|noncompliant|unknown, with the annotation sigwatch.dev/reasons.',
  'spec.actions.evict':
    'Evictions through the Eviction API, only when every rule holds (README, "Evictions"); PodDisruptionBudgets are honoured.',
  'spec.actions.evict.enabled': 'Evict NonCompliant pods at all.',
  'spec.actions.evict.noncompliantFor':
    'How long a pod must stay freshly NonCompliant before it may be evicted (Go duration).',
  'spec.actions.evict.maxPerHour': 'At most this many evictions by this policy in any hour.',
  'spec.actions.evict.perOwnerInterval': 'At most one eviction per workload in this interval (Go duration).',
  'spec.actions.evict.includeKinds':
    'Also evict pods owned by these kinds (None: bare pods); pods of ReplicaSets and StatefulSets always may be.',
  'spec.actions.evict.maxNewViolationsPercent':
    'Circuit breaker: when more than this percent of the matched pods turn NonCompliant within one noncompliantFor, evictions pause until sigwatch.dev/confirm-evictions confirms.',
  'spec.admission': 'What the policy does at deploy time, in the admission webhook.',
  'spec.admission.enabled':
    'Judge pods and pod templates at admission: Enforce refuses a NonCompliant image, Audit admits it with a warning.',
  'spec.admission.onUnknown':
    'Enforce mode: refuse (Deny) or admit with a warning (Allow) an image whose verdict is Unknown at admission (registry down, timeout).',
  'spec.admission.pinDigests':
    'Rewrite each pod image this policy matches from its tag to the digest that was judged.',
  'spec.reverifyInterval': 'How often evidence is fetched again (Go duration, at least 1m).',
};
