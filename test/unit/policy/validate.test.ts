import { generateKeyPairSync } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { policyDefaults, policyLimits } from '../../../src/policy/spec.js';
import { validatePolicySpec, type PolicyProblemCode } from '../../../src/policy/validate.js';

const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
  type: 'spki',
  format: 'pem',
});
const weakRsaKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
  type: 'spki',
  format: 'pem',
});

type Json = Record<string, unknown>;

/** design.md §2's example spec, with a real key. */
function examplePolicy(): Json {
  return {
    mode: 'Audit',
    match: {
      images: ['registry.example.com/**', 'ghcr.io/myorg/*'],
      namespaceSelector: { matchLabels: { env: 'prod' } },
      podSelector: {},
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
      { name: 'release-key', key: { publicKey } },
    ],
    attestations: [
      { name: 'sbom', predicateType: 'https://spdx.dev/Document' },
      {
        name: 'provenance',
        predicateType: 'https://slsa.dev/provenance/v1',
        provenance: {
          builderIdRegExp: '^https://github\\.com/slsa-framework/slsa-github-generator/.+$',
          sourceRepositories: ['git+https://github.com/myorg/app'],
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
      {
        images: ['registry.example.com/legacy/*'],
        reason: 'migration ticket SEC-142',
        expires: '2027-03-31T00:00:00Z',
      },
    ],
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
    reverifyInterval: '1h',
  };
}

function minimalPolicy(): Json {
  return {
    match: { images: ['ghcr.io/myorg/*'] },
    authorities: [{ name: 'k', key: { secretRef: { name: 'cosign', key: 'cosign.pub' } } }],
  };
}

/** Sets a value at a dotted path with `[i]` indices, creating nothing: the path must exist up to its parent. */
function set(root: Json, path: string, value: unknown): Json {
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let node: unknown = root;
  for (const key of keys.slice(0, -1)) node = (node as Json)[key];
  const last = keys.at(-1) ?? '';
  if (value === undefined) Reflect.deleteProperty(node as Json, last);
  else (node as Json)[last] = value;
  return root;
}

describe('policy/validate', () => {
  it('accepts design §2 example with no problems and no warnings', () => {
    const result = validatePolicySpec(examplePolicy());
    expect(result.problems).to.deep.equal([]);
    expect(result.warnings).to.deep.equal([]);
    expect(result.spec?.authorities.map((a) => a.name)).to.deep.equal(['ci', 'release-key']);
    expect(result.spec?.sbom.deny.packages[0]?.versions).to.equal('<2.17.1');
  });

  it('applies defaults to a minimal policy', () => {
    const result = validatePolicySpec(minimalPolicy());
    expect(result.problems).to.deep.equal([]);
    const spec = result.spec;
    expect(spec?.mode).to.equal('Audit');
    expect(spec?.match.signatureOn).to.equal('either');
    expect(spec?.match.includeSystemNamespaces).to.equal(false);
    expect(spec?.match.excludeNamespaces).to.deep.equal([]);
    expect(spec?.authorities[0]?.requireTransparencyLog).to.equal(false);
    expect(spec?.attestations).to.deep.equal([]);
    expect(spec?.sbom).to.deep.equal({
      required: false,
      onUnparseableVersion: 'ignore',
      deny: { packages: [], licenses: [] },
    });
    expect(spec?.exceptions).to.deep.equal([]);
    expect(spec?.actions).to.deep.equal(policyDefaults.actions);
    // Spelled out: the README documents these, and a default that refuses less must be a visible change.
    expect(spec?.admission).to.deep.equal({ enabled: true, onUnknown: 'Deny', pinDigests: false });
    expect(spec?.reverifyInterval).to.equal('1h');
  });

  describe('spec.admission', () => {
    const admission = (value: unknown): ReturnType<typeof validatePolicySpec> =>
      validatePolicySpec({ ...minimalPolicy(), admission: value });

    it('reads every field', () => {
      const result = admission({ enabled: false, onUnknown: 'Allow', pinDigests: true });
      expect(result.problems).to.deep.equal([]);
      expect(result.spec?.admission).to.deep.equal({ enabled: false, onUnknown: 'Allow', pinDigests: true });
    });

    it('defaults the fields left out', () => {
      expect(admission({ pinDigests: true }).spec?.admission).to.deep.equal({
        enabled: true,
        onUnknown: 'Deny',
        pinDigests: true,
      });
      expect(admission({}).spec?.admission).to.deep.equal(policyDefaults.admission);
    });

    const rows: [string, unknown, string, PolicyProblemCode][] = [
      ['not an object', true, 'spec.admission', 'WrongType'],
      ['a list', [{ enabled: false }], 'spec.admission', 'WrongType'],
      ['null', null, 'spec.admission', 'WrongType'],
      ['enabled as a string', { enabled: 'false' }, 'spec.admission.enabled', 'WrongType'],
      ['pinDigests as a number', { pinDigests: 1 }, 'spec.admission.pinDigests', 'WrongType'],
      ['onUnknown in lower case', { onUnknown: 'deny' }, 'spec.admission.onUnknown', 'InvalidEnum'],
      ['onUnknown Warn', { onUnknown: 'Warn' }, 'spec.admission.onUnknown', 'InvalidEnum'],
      ['onUnknown as a boolean', { onUnknown: false }, 'spec.admission.onUnknown', 'InvalidEnum'],
      ['an unknown field', { onUnkown: 'Allow' }, 'spec.admission.onUnkown', 'UnknownField'],
    ];
    for (const [name, value, path, code] of rows)
      it(`refuses ${name}`, () => {
        const result = admission(value);
        expect(result.problems.map((p) => `${p.path} ${p.code}`)).to.deep.equal([`${path} ${code}`]);
        expect(result.spec).to.equal(undefined);
      });
  });

  it('defaults requireTransparencyLog to true for keyless authorities', () => {
    const policy = examplePolicy();
    set(policy, 'authorities[0].requireTransparencyLog', undefined);
    expect(validatePolicySpec(policy).spec?.authorities[0]?.requireTransparencyLog).to.equal(true);
  });

  describe('reports each kind of problem at its path', () => {
    const long = (n: number): string => 'a'.repeat(n + 1);
    const rows: [string, (p: Json) => Json, string, PolicyProblemCode][] = [
      ['a non-object spec', () => [] as unknown as Json, 'spec', 'WrongType'],
      ['an unknown top-level field', (p) => set(p, 'modes', 'Enforce'), 'spec.modes', 'UnknownField'],
      [
        'a typo in match',
        (p) => set(p, 'match.excludeNamespace', ['x']),
        'spec.match.excludeNamespace',
        'UnknownField',
      ],
      [
        'a typo in keyless',
        (p) => set(p, 'authorities[0].keyless.subjectRegexp', '^x$'),
        'spec.authorities[0].keyless.subjectRegexp',
        'UnknownField',
      ],
      [
        'an unknown dotted key',
        (p) => set(p, 'sbom.deny', { 'x.y': 1 }),
        'spec.sbom.deny["x.y"]',
        'UnknownField',
      ],
      [
        'a bad label value',
        (p) => set(p, 'match.namespaceSelector.matchLabels.env', 'prod env'),
        'spec.match.namespaceSelector.matchLabels.env',
        'InvalidLabel',
      ],
      ['a wrong mode', (p) => set(p, 'mode', 'enforce'), 'spec.mode', 'InvalidEnum'],
      [
        'a wrong signatureOn',
        (p) => set(p, 'match.signatureOn', 'any'),
        'spec.match.signatureOn',
        'InvalidEnum',
      ],
      ['a missing match', (p) => set(p, 'match', undefined), 'spec.match', 'Required'],
      ['no images', (p) => set(p, 'match.images', []), 'spec.match.images', 'Required'],
      [
        'a bad glob',
        (p) => set(p, 'match.images[1]', 'ghcr.io/app:v1'),
        'spec.match.images[1]',
        'InvalidGlob',
      ],
      ['a non-string glob', (p) => set(p, 'match.images[0]', 7), 'spec.match.images[0]', 'WrongType'],
      [
        'finding 1: a glob with an upper-case registry host',
        (p) => set(p, 'match.images[0]', 'GHCR.IO/**'),
        'spec.match.images[0]',
        'NonCanonicalGlob',
      ],
      [
        'finding 1: a glob with the default port :443',
        (p) => set(p, 'match.images[1]', 'ghcr.io:443/myorg/*'),
        'spec.match.images[1]',
        'NonCanonicalGlob',
      ],
      [
        'finding 1: an exception glob naming a Docker Hub alias',
        (p) => set(p, 'exceptions[0].images[0]', 'index.docker.io/library/*'),
        'spec.exceptions[0].images[0]',
        'NonCanonicalGlob',
      ],
      [
        'a non-boolean',
        (p) => set(p, 'match.includeSystemNamespaces', 'no'),
        'spec.match.includeSystemNamespaces',
        'WrongType',
      ],
      [
        'a bad namespace name',
        (p) => set(p, 'match.excludeNamespaces[0]', 'Legacy_ns'),
        'spec.match.excludeNamespaces[0]',
        'InvalidLabel',
      ],
      [
        'a sigwatch.dev pod label',
        (p) => set(p, 'match.podSelector', { matchLabels: { 'sigwatch.dev/compliance': 'compliant' } }),
        'spec.match.podSelector.matchLabels["sigwatch.dev/compliance"]',
        'ReservedLabelKey',
      ],
      [
        'a sigwatch.dev namespace expression',
        (p) =>
          set(p, 'match.namespaceSelector', {
            matchExpressions: [{ key: 'sigwatch.dev/exempt-by', operator: 'Exists' }],
          }),
        'spec.match.namespaceSelector.matchExpressions[0].key',
        'ReservedLabelKey',
      ],
      [
        'In without values',
        (p) => set(p, 'match.podSelector', { matchExpressions: [{ key: 'app', operator: 'In' }] }),
        'spec.match.podSelector.matchExpressions[0].values',
        'InvalidCombination',
      ],
      [
        'a bad selector operator',
        (p) => set(p, 'match.podSelector', { matchExpressions: [{ key: 'app', operator: 'Has' }] }),
        'spec.match.podSelector.matchExpressions[0].operator',
        'InvalidEnum',
      ],
      ['no authorities', (p) => set(p, 'authorities', []), 'spec.authorities', 'Required'],
      [
        'both keyless and key',
        (p) => set(p, 'authorities[1].keyless', { issuer: 'https://x', subject: 'a' }),
        'spec.authorities[1]',
        'AuthorityKind',
      ],
      [
        'neither keyless nor key',
        (p) => set(p, 'authorities[1].key', undefined),
        'spec.authorities[1]',
        'AuthorityKind',
      ],
      [
        'a bad RE2 pattern',
        (p) => set(p, 'authorities[0].keyless.subjectRegExp', '^(a$'),
        'spec.authorities[0].keyless.subjectRegExp',
        'InvalidPattern',
      ],
      [
        'a backtracking-only pattern',
        (p) => set(p, 'authorities[0].keyless.subjectRegExp', '^(a)\\1$'),
        'spec.authorities[0].keyless.subjectRegExp',
        'InvalidPattern',
      ],
      [
        'no subject rule',
        (p) => set(p, 'authorities[0].keyless.subjectRegExp', undefined),
        'spec.authorities[0].keyless.subjectRegExp',
        'Required',
      ],
      [
        'subject and subjectRegExp',
        (p) => set(p, 'authorities[0].keyless.subject', 'x'),
        'spec.authorities[0].keyless',
        'InvalidCombination',
      ],
      [
        'an empty issuer',
        (p) => set(p, 'authorities[0].keyless.issuer', ''),
        'spec.authorities[0].keyless.issuer',
        'Required',
      ],
      [
        'a garbage PEM',
        (p) =>
          set(
            p,
            'authorities[1].key.publicKey',
            '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n',
          ),
        'spec.authorities[1].key.publicKey',
        'InvalidPublicKey',
      ],
      [
        'a weak RSA key',
        (p) => set(p, 'authorities[1].key.publicKey', weakRsaKey),
        'spec.authorities[1].key.publicKey',
        'InvalidPublicKey',
      ],
      [
        'publicKey and secretRef',
        (p) => set(p, 'authorities[1].key.secretRef', { name: 'a', key: 'b' }),
        'spec.authorities[1].key',
        'InvalidCombination',
      ],
      [
        'a duplicate authority name',
        (p) => set(p, 'authorities[1].name', 'ci'),
        'spec.authorities[1].name',
        'Duplicate',
      ],
      [
        'an unknown predicate shortcut',
        (p) => set(p, 'attestations[0].predicateType', 'spdx-json'),
        'spec.attestations[0].predicateType',
        'UnknownPredicateType',
      ],
      [
        'provenance on an SBOM',
        (p) => set(p, 'attestations[0].provenance', { builderIdRegExp: '^x$' }),
        'spec.attestations[0].provenance',
        'InvalidCombination',
      ],
      [
        'a bad builderIdRegExp',
        (p) => set(p, 'attestations[1].provenance.builderIdRegExp', '['),
        'spec.attestations[1].provenance.builderIdRegExp',
        'InvalidPattern',
      ],
      [
        'a duplicate attestation name',
        (p) => set(p, 'attestations[1].name', 'sbom'),
        'spec.attestations[1].name',
        'Duplicate',
      ],
      ['a bad maxAge', (p) => set(p, 'sbom.maxAge', '30d'), 'spec.sbom.maxAge', 'InvalidDuration'],
      [
        'a bad purl',
        (p) => set(p, 'sbom.deny.packages[0].purl', 'maven:log4j'),
        'spec.sbom.deny.packages[0].purl',
        'InvalidPurl',
      ],
      [
        'a versioned purl',
        (p) => set(p, 'sbom.deny.packages[0].purl', 'pkg:npm/left-pad@1.0.0'),
        'spec.sbom.deny.packages[0].purl',
        'InvalidPurl',
      ],
      [
        'a bad range',
        (p) => set(p, 'sbom.deny.packages[0].versions', '<<2'),
        'spec.sbom.deny.packages[0].versions',
        'InvalidRange',
      ],
      [
        'a bad onUnparseableVersion',
        (p) => set(p, 'sbom.onUnparseableVersion', 'warn'),
        'spec.sbom.onUnparseableVersion',
        'InvalidEnum',
      ],
      [
        'a non-RFC 3339 expires',
        (p) => set(p, 'exceptions[0].expires', '2027-03-31'),
        'spec.exceptions[0].expires',
        'InvalidTimestamp',
      ],
      [
        'an impossible date',
        (p) => set(p, 'exceptions[0].expires', '2027-02-30T00:00:00Z'),
        'spec.exceptions[0].expires',
        'InvalidTimestamp',
      ],
      [
        'an exception without reason',
        (p) => set(p, 'exceptions[0].reason', undefined),
        'spec.exceptions[0].reason',
        'Required',
      ],
      [
        'a bad noncompliantFor',
        (p) => set(p, 'actions.evict.noncompliantFor', 'soon'),
        'spec.actions.evict.noncompliantFor',
        'InvalidDuration',
      ],
      [
        'a fractional maxPerHour',
        (p) => set(p, 'actions.evict.maxPerHour', 1.5),
        'spec.actions.evict.maxPerHour',
        'WrongType',
      ],
      [
        'a percent over 100',
        (p) => set(p, 'actions.evict.maxNewViolationsPercent', 101),
        'spec.actions.evict.maxNewViolationsPercent',
        'OutOfRange',
      ],
      [
        'an unknown includeKinds',
        (p) => set(p, 'actions.evict.includeKinds', ['Deployment']),
        'spec.actions.evict.includeKinds[0]',
        'InvalidEnum',
      ],
      [
        'a repeated includeKinds',
        (p) => set(p, 'actions.evict.includeKinds', ['Job', 'Job']),
        'spec.actions.evict.includeKinds[1]',
        'Duplicate',
      ],
      [
        'a too short reverifyInterval',
        (p) => set(p, 'reverifyInterval', '10s'),
        'spec.reverifyInterval',
        'OutOfRange',
      ],
      [
        'too many images',
        (p) => set(p, 'match.images', Array(policyLimits['match.images'].maxItems + 1).fill('a.io/b')),
        'spec.match.images',
        'TooMany',
      ],
      [
        'a too long glob',
        (p) => set(p, 'match.images[0]', `a.io/${long(policyLimits['match.images[]'].maxLength)}`),
        'spec.match.images[0]',
        'TooLong',
      ],
      [
        'a too long reason',
        (p) => set(p, 'exceptions[0].reason', long(policyLimits['exceptions[].reason'].maxLength)),
        'spec.exceptions[0].reason',
        'TooLong',
      ],
      [
        'too many authorities',
        (p) =>
          set(
            p,
            'authorities',
            Array(policyLimits.authorities.maxItems + 1).fill((p['authorities'] as Json[])[1]),
          ),
        'spec.authorities',
        'TooMany',
      ],
    ];
    for (const [name, mutate, path, code] of rows) {
      it(name, () => {
        const result = validatePolicySpec(mutate(examplePolicy()));
        expect(result.problems.map((p) => `${p.path} ${p.code}`)).to.include(`${path} ${code}`);
        expect(result.spec).to.equal(undefined);
      });
    }
  });

  it('finding 1: a glob not spelled canonically is refused with the canonical spelling suggested', () => {
    const result = validatePolicySpec(set(examplePolicy(), 'match.images[0]', 'GHCR.IO:443/**'));
    const problem = result.problems.find((p) => p.path === 'spec.match.images[0]');
    expect(problem?.code).to.equal('NonCanonicalGlob');
    expect(problem?.message).to.include('"ghcr.io/**"');
  });

  it('reports several problems at once', () => {
    const policy = examplePolicy();
    set(policy, 'mode', 'Strict');
    set(policy, 'authorities[0].keyless.subjectRegExp', '(');
    set(policy, 'sbom.maxAge', 'long');
    set(policy, 'exceptions[0].expires', 'tomorrow');
    set(policy, 'actions.evict.enable', true);
    const found = validatePolicySpec(policy).problems.map((p) => `${p.path} ${p.code}`);
    expect(found).to.have.members([
      'spec.mode InvalidEnum',
      'spec.authorities[0].keyless.subjectRegExp InvalidPattern',
      'spec.sbom.maxAge InvalidDuration',
      'spec.exceptions[0].expires InvalidTimestamp',
      'spec.actions.evict.enable UnknownField',
    ]);
  });

  describe('warns about unanchored patterns', () => {
    const rows: [string, string, string][] = [
      ['subjectRegExp', 'authorities[0].keyless.subjectRegExp', 'https://github\\.com/myorg/'],
      [
        'builderIdRegExp',
        'attestations[1].provenance.builderIdRegExp',
        '^https://github\\.com/slsa-framework/',
      ],
    ];
    for (const [name, path, pattern] of rows) {
      it(name, () => {
        const result = validatePolicySpec(set(examplePolicy(), path, pattern));
        expect(result.problems).to.deep.equal([]);
        expect(result.spec).to.not.equal(undefined);
        expect(result.warnings.map((w) => `${w.path} ${w.code}`)).to.deep.equal([
          `spec.${path} UnanchoredPattern`,
        ]);
      });
    }
  });

  describe('finding 10: keyless.issuerRegExp, exactly one of issuer / issuerRegExp', () => {
    const withIssuer = (keyless: Json): Json => set(examplePolicy(), 'authorities[0].keyless', keyless);
    const subjectRegExp = '^https://gitlab\\.com/myorg/.+$';

    it('accepts an anchored issuer pattern without warnings and keeps it in the spec', () => {
      const result = validatePolicySpec(
        withIssuer({ issuerRegExp: '^https://gitlab\\.(com|example\\.org)$', subjectRegExp }),
      );
      expect(result.problems).to.deep.equal([]);
      expect(result.warnings).to.deep.equal([]);
      expect(result.spec?.authorities[0]?.keyless).to.deep.equal({
        issuerRegExp: '^https://gitlab\\.(com|example\\.org)$',
        subjectRegExp,
      });
    });

    it('warns about an unanchored issuer pattern, as for identities', () => {
      const result = validatePolicySpec(withIssuer({ issuerRegExp: 'https://gitlab\\.com', subjectRegExp }));
      expect(result.problems).to.deep.equal([]);
      expect(result.warnings.map((w) => `${w.path} ${w.code}`)).to.deep.equal([
        'spec.authorities[0].keyless.issuerRegExp UnanchoredPattern',
      ]);
    });

    const rows: [string, Json, string, PolicyProblemCode][] = [
      [
        'both issuer and issuerRegExp',
        { issuer: 'https://gitlab.com', issuerRegExp: '^https://gitlab\\.com$', subjectRegExp },
        'spec.authorities[0].keyless',
        'InvalidCombination',
      ],
      [
        'neither issuer nor issuerRegExp',
        { subjectRegExp },
        'spec.authorities[0].keyless.issuer',
        'Required',
      ],
      [
        'an issuer pattern RE2 refuses',
        { issuerRegExp: '^(https$', subjectRegExp },
        'spec.authorities[0].keyless.issuerRegExp',
        'InvalidPattern',
      ],
      [
        'an empty issuer pattern (it would match every issuer)',
        { issuerRegExp: '', subjectRegExp },
        'spec.authorities[0].keyless.issuerRegExp',
        'Required',
      ],
      ['an empty issuer', { issuer: ' ', subjectRegExp }, 'spec.authorities[0].keyless.issuer', 'Required'],
      [
        'an empty subject pattern (it would match every identity)',
        { issuer: 'https://gitlab.com', subjectRegExp: '' },
        'spec.authorities[0].keyless.subjectRegExp',
        'Required',
      ],
      [
        'an empty subject',
        { issuer: 'https://gitlab.com', subject: '' },
        'spec.authorities[0].keyless.subject',
        'Required',
      ],
      [
        'an issuer pattern that is too long',
        {
          issuerRegExp: `^${'a'.repeat(1024)}$`,
          subjectRegExp,
        },
        'spec.authorities[0].keyless.issuerRegExp',
        'TooLong',
      ],
    ];
    for (const [name, keyless, path, code] of rows) {
      it(`refuses ${name}: ${code} at ${path}`, () => {
        const result = validatePolicySpec(withIssuer(keyless));
        expect(result.problems.map((x) => `${x.path} ${x.code}`)).to.deep.equal([`${path} ${code}`]);
        expect(result.spec).to.equal(undefined);
      });
    }
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = validatePolicySpec(value);
        expect(result.spec === undefined).to.equal(result.problems.length > 0);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary values at every field of a valid policy', () => {
    const paths = [
      'mode',
      'match',
      'match.images',
      'match.podSelector',
      'authorities',
      'authorities[0]',
      'authorities[1].key',
      'attestations',
      'sbom',
      'sbom.deny',
      'exceptions',
      'actions',
      'actions.evict',
      'admission',
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.jsonValue(), (path, value) => {
        const result = validatePolicySpec(set(examplePolicy(), path, value));
        expect(result.spec === undefined).to.equal(result.problems.length > 0);
      }),
      { numRuns: 300 },
    );
  });
});
