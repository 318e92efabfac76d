/**
 * ImagePolicy specs that are broken in one way each, with who must refuse
 * them: the API server (CRD schema and CEL, at `kubectl apply`) and always
 * Sigwatch's validator. What the API server cannot judge (RE2 syntax, PEM,
 * purls, ranges, globs, predicate shortcuts) it stores, and the operator
 * reports `Ready=False` with the path.
 */
import { generateKeyPairSync } from 'node:crypto';

export const corpusPublicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();

const key = { name: 'release', key: { publicKey: corpusPublicKey } };
const base = { match: { images: ['registry.example.com/**'] }, authorities: [key] };

export interface BrokenPolicy {
  readonly name: string;
  readonly spec: unknown;
  /** The path the validator reports (a prefix is enough). */
  readonly path: string;
  /** Whether `kubectl apply` already refuses it. */
  readonly apiServerRejects: boolean;
}

const many = (n: number, f: (i: number) => unknown): unknown[] => Array.from({ length: n }, (_, i) => f(i));

export const brokenPolicies: readonly BrokenPolicy[] = [
  { name: 'no-authorities', spec: { match: base.match }, path: 'spec.authorities', apiServerRejects: true },
  {
    name: 'key-and-keyless',
    spec: { ...base, authorities: [{ ...key, keyless: { issuer: 'https://i', subject: 's' } }] },
    path: 'spec.authorities[0]',
    apiServerRejects: true,
  },
  {
    name: 'bad-regex',
    spec: { ...base, authorities: [{ name: 'ci', keyless: { issuer: 'https://i', subjectRegExp: '^(a$' } }] },
    path: 'spec.authorities[0].keyless.subjectRegExp',
    apiServerRejects: false,
  },
  {
    name: 'finding-10-issuer-and-issuer-regexp',
    spec: {
      ...base,
      authorities: [
        { name: 'ci', keyless: { issuer: 'https://i', issuerRegExp: '^https://i$', subject: 's' } },
      ],
    },
    path: 'spec.authorities[0].keyless',
    apiServerRejects: true,
  },
  {
    name: 'finding-10-no-issuer',
    spec: { ...base, authorities: [{ name: 'ci', keyless: { subject: 's' } }] },
    path: 'spec.authorities[0].keyless.issuer',
    apiServerRejects: true,
  },
  {
    name: 'finding-10-bad-issuer-regex',
    spec: { ...base, authorities: [{ name: 'ci', keyless: { issuerRegExp: '^(a$', subject: 's' } }] },
    path: 'spec.authorities[0].keyless.issuerRegExp',
    apiServerRejects: false,
  },
  {
    name: 'backreference-regex',
    spec: {
      ...base,
      authorities: [{ name: 'ci', keyless: { issuer: 'https://i', subjectRegExp: '^(a)\\1$' } }],
    },
    path: 'spec.authorities[0].keyless.subjectRegExp',
    apiServerRejects: false,
  },
  {
    name: 'bad-pem',
    spec: {
      ...base,
      authorities: [
        { name: 'k', key: { publicKey: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' } },
      ],
    },
    path: 'spec.authorities[0].key.publicKey',
    apiServerRejects: false,
  },
  {
    name: 'bad-duration',
    spec: { ...base, reverifyInterval: '1d' },
    path: 'spec.reverifyInterval',
    apiServerRejects: true,
  },
  {
    name: 'too-short-interval',
    spec: { ...base, reverifyInterval: '30s' },
    path: 'spec.reverifyInterval',
    apiServerRejects: true,
  },
  {
    name: 'bad-max-age',
    spec: { ...base, sbom: { maxAge: 'soon' } },
    path: 'spec.sbom.maxAge',
    apiServerRejects: true,
  },
  { name: 'bad-mode', spec: { ...base, mode: 'Enforcing' }, path: 'spec.mode', apiServerRejects: true },
  {
    name: 'unknown-field',
    spec: { ...base, match: { ...base.match, excludNamespaces: ['legacy'] } },
    path: 'spec.match.excludNamespaces',
    apiServerRejects: true,
  },
  {
    name: 'too-many-images',
    spec: { ...base, match: { images: many(65, (i) => `registry.example.com/app${String(i)}`) } },
    path: 'spec.match.images',
    apiServerRejects: true,
  },
  {
    name: 'too-long-glob',
    spec: { ...base, match: { images: [`registry.example.com/${'a'.repeat(600)}`] } },
    path: 'spec.match.images[0]',
    apiServerRejects: true,
  },
  {
    name: 'too-many-deny-packages',
    spec: { ...base, sbom: { deny: { packages: many(257, (i) => ({ purl: `pkg:npm/p${String(i)}` })) } } },
    path: 'spec.sbom.deny.packages',
    apiServerRejects: true,
  },
  {
    name: 'reserved-selector-key',
    spec: {
      ...base,
      match: { ...base.match, podSelector: { matchLabels: { 'sigwatch.dev/compliance': 'compliant' } } },
    },
    path: 'spec.match.podSelector',
    apiServerRejects: true,
  },
  {
    name: 'bad-namespace-name',
    spec: { ...base, match: { ...base.match, excludeNamespaces: ['Kube_System'] } },
    path: 'spec.match.excludeNamespaces[0]',
    apiServerRejects: true,
  },
  {
    name: 'duplicate-authorities',
    spec: { ...base, authorities: [key, key] },
    path: 'spec.authorities',
    apiServerRejects: true,
  },
  {
    name: 'bad-purl',
    spec: { ...base, sbom: { deny: { packages: [{ purl: 'log4j-core' }] } } },
    path: 'spec.sbom.deny.packages[0].purl',
    apiServerRejects: false,
  },
  {
    name: 'bad-range',
    spec: { ...base, sbom: { deny: { packages: [{ purl: 'pkg:maven/a/b', versions: '<<2' }] } } },
    path: 'spec.sbom.deny.packages[0].versions',
    apiServerRejects: false,
  },
  {
    name: 'unknown-predicate-shortcut',
    spec: { ...base, attestations: [{ name: 's', predicateType: 'spdx-json' }] },
    path: 'spec.attestations[0].predicateType',
    apiServerRejects: false,
  },
  {
    name: 'bad-glob',
    spec: { ...base, match: { images: ['registry.example.com/app:1.0'] } },
    path: 'spec.match.images[0]',
    apiServerRejects: false,
  },
  {
    name: 'bad-expiry',
    spec: {
      ...base,
      exceptions: [{ images: ['registry.example.com/*'], reason: 'r', expires: 'next year' }],
    },
    path: 'spec.exceptions[0].expires',
    apiServerRejects: true,
  },
  {
    name: 'evict-unknown-kind',
    spec: { ...base, actions: { evict: { includeKinds: ['Deployment'] } } },
    path: 'spec.actions.evict.includeKinds[0]',
    apiServerRejects: true,
  },
  {
    name: 'percent-out-of-range',
    spec: { ...base, actions: { evict: { maxNewViolationsPercent: 150 } } },
    path: 'spec.actions.evict.maxNewViolationsPercent',
    apiServerRejects: true,
  },
  {
    name: 'admission-not-an-object',
    spec: { ...base, admission: true },
    path: 'spec.admission',
    apiServerRejects: true,
  },
  {
    name: 'admission-enabled-not-boolean',
    // Not 'yes': kubectl reads YAML 1.1, where an unquoted yes is a boolean (the yaml package writes it unquoted).
    spec: { ...base, admission: { enabled: 'always' } },
    path: 'spec.admission.enabled',
    apiServerRejects: true,
  },
  {
    name: 'admission-unknown-on-unknown',
    spec: { ...base, admission: { onUnknown: 'Warn' } },
    path: 'spec.admission.onUnknown',
    apiServerRejects: true,
  },
  {
    name: 'admission-pin-digests-not-boolean',
    spec: { ...base, admission: { pinDigests: 'true' } },
    path: 'spec.admission.pinDigests',
    apiServerRejects: true,
  },
  {
    name: 'admission-unknown-field',
    spec: { ...base, admission: { pinDigest: true } },
    path: 'spec.admission.pinDigest',
    apiServerRejects: true,
  },
];

/** Valid specs both must accept: the smallest one and one with every field set. */
export const validPolicies: readonly { readonly name: string; readonly spec: unknown }[] = [
  { name: 'minimal', spec: base },
  {
    name: 'everything',
    spec: {
      mode: 'Enforce',
      match: {
        images: ['registry.example.com/**', 'ghcr.io/myorg/*'],
        namespaceSelector: { matchLabels: { env: 'prod' } },
        podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] },
        excludeNamespaces: ['legacy'],
        includeSystemNamespaces: false,
        signatureOn: 'either',
      },
      authorities: [
        {
          name: 'ci',
          keyless: {
            issuer: 'https://token.actions.githubusercontent.com',
            subjectRegExp: '^https://github\\.com/myorg/.+/\\.github/workflows/.+@refs/heads/main$',
            trustedRootRef: { name: 'sigstore-public-good' },
          },
          requireTransparencyLog: true,
          source: { repository: 'registry.example.com/signatures' },
        },
        {
          name: 'release-bot',
          keyless: { issuer: 'https://accounts.google.com', subject: 'release@example.com' },
        },
        {
          name: 'gitlab',
          keyless: {
            issuerRegExp: '^https://gitlab\\.(com|example\\.org)$',
            subjectRegExp: '^https://gitlab\\.example\\.org/myorg/.+$',
          },
        },
        { name: 'release-key', key: { publicKey: corpusPublicKey } },
        { name: 'rotated-key', key: { secretRef: { name: 'cosign-keys', key: 'cosign.pub' } } },
      ],
      attestations: [
        { name: 'sbom', predicateType: 'https://spdx.dev/Document' },
        {
          name: 'provenance',
          predicateType: 'https://slsa.dev/provenance/v1',
          provenance: {
            builderIdRegExp: '^https://github\\.com/slsa-framework/slsa-github-generator/.+$',
            sourceRepositories: ['git+https://github.com/myorg/app'],
            buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
          },
        },
      ],
      sbom: {
        required: true,
        maxAge: '720h',
        deny: {
          packages: [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' }],
          licenses: ['AGPL-3.0-only'],
        },
        onUnparseableVersion: 'ignore',
      },
      exceptions: [
        { images: ['registry.example.com/legacy/*'], reason: 'SEC-142', expires: '2027-03-31T00:00:00Z' },
      ],
      actions: {
        label: true,
        evict: {
          enabled: false,
          noncompliantFor: '10m',
          maxPerHour: 20,
          perOwnerInterval: '10m',
          includeKinds: ['DaemonSet'],
          maxNewViolationsPercent: 10,
        },
      },
      admission: { enabled: true, onUnknown: 'Allow', pinDigests: true },
      reverifyInterval: '1h',
    },
  },
];
