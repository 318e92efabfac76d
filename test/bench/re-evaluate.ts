/**
 * Re-evaluation after a policy edit (design §4 and §7): 1,000 digests ×
 * 20 policies judged from cached evidence, no registry involved. Each
 * digest has a key signature and a signed 200-component SPDX SBOM; the
 * policies mix authorities, deny rules, licenses and maxAge.
 *
 * Reported: the first evaluation of everything (signatures, attestations and
 * SBOMs verified and parsed: the baseline), then the re-evaluation of all
 * 20,000 pairs after every policy's generation changed (the memo misses, the
 * verification cache hits), repeated; median and p95.
 */
import { compilePolicy, type CompiledPolicy } from '../../src/policy/compile.js';
import { PolicyEvaluator } from '../../src/policy/evaluate.js';
import type { TrustMaterial } from '../../src/policy/trust-material.js';
import type { Evidence } from '../../src/registry/evidence.js';
import { publicGoodTrustedRoot } from '../../src/verify/public-good.js';
import {
  attestationLayer,
  buildEvidence,
  randomDigest,
  signatureLayer,
  testKey,
  type TestKey,
} from '../support/evidence-builder.js';
import { median, quantile } from './stats.js';

export interface ReEvaluateResult {
  readonly digests: number;
  readonly policies: number;
  readonly componentsPerSbom: number;
  /** First evaluation of every pair: crypto, SBOM parsing, rules. */
  readonly coldMs: number;
  readonly reEvaluateMedianMs: number;
  readonly reEvaluateP95Ms: number;
  readonly rounds: number;
  readonly verdicts: Readonly<Record<string, number>>;
}

const digests = 1000;
const policyCount = 20;
const componentsPerSbom = 200;
const now = new Date('2026-06-01T00:00:00Z');

function sbom(i: number): object {
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `app-${String(i)}`,
    documentNamespace: `https://sigwatch.test/bench/${String(i)}`,
    creationInfo: { created: '2026-05-20T00:00:00Z', creators: ['Tool: sigwatch-bench'] },
    packages: Array.from({ length: componentsPerSbom }, (_, c) => {
      // One image in ten carries a vulnerable log4j-core; the rest are npm libraries.
      const log4j = c === 0 && i % 10 === 0;
      const version = log4j ? '2.14.1' : `1.${String((i + c) % 30)}.${String(c % 7)}`;
      const purl = log4j
        ? `pkg:maven/org.apache.logging.log4j/log4j-core@${version}`
        : `pkg:npm/lib-${String(c)}@${version}`;
      return {
        SPDXID: `SPDXRef-Package-${String(c)}`,
        name: log4j ? 'log4j-core' : `lib-${String(c)}`,
        versionInfo: version,
        downloadLocation: 'NOASSERTION',
        licenseConcluded: c % 13 === 0 ? 'MIT OR Apache-2.0' : 'MIT',
        externalRefs: [
          { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl },
        ],
      };
    }),
  };
}

function evidenceSet(signer: TestKey): Evidence[] {
  return Array.from({ length: digests }, (_, i) => {
    const repository = `registry.example/team-${String(i % 25)}/app-${String(i)}`;
    const digest = randomDigest();
    return buildEvidence({
      repository,
      digest,
      fetchedAt: now,
      signatures: [signatureLayer(signer, repository, digest)],
      attestations: [attestationLayer(signer, repository, digest, 'https://spdx.dev/Document', sbom(i))],
    });
  });
}

function policySpecs(signer: TestKey, other: TestKey): Record<string, unknown>[] {
  return Array.from({ length: policyCount }, (_, p) => ({
    match: { images: [p % 2 === 0 ? 'registry.example/**' : `registry.example/team-${String(p % 25)}/*`] },
    authorities: [
      { name: 'release', key: { publicKey: signer.publicKeyPem } },
      ...(p % 3 === 0 ? [{ name: 'old', key: { publicKey: other.publicKeyPem } }] : []),
    ],
    sbom: {
      required: p % 4 === 0,
      ...(p % 5 === 0 ? { maxAge: '720h' } : {}),
      deny: {
        packages: [
          { purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' },
          { purl: `pkg:npm/lib-${String(p * 7)}`, versions: '>=1.29.0' },
          { purl: 'pkg:npm/lib-3', versions: 'vers:npm/>=1.0.0|<1.1.0' },
        ],
        licenses: p % 2 === 0 ? ['AGPL-3.0-only', 'SSPL-1.0'] : [],
      },
    },
  }));
}

function compileAll(
  specs: readonly Record<string, unknown>[],
  generation: number,
  trust: TrustMaterial,
): CompiledPolicy[] {
  return specs.map((spec, i) => {
    const policy = compilePolicy({ name: `policy-${String(i)}`, generation, spec }, trust);
    if (!policy.ready)
      throw new Error(`bench policy ${String(i)} invalid: ${JSON.stringify(policy.problems)}`);
    return policy;
  });
}

function evaluateAll(
  evaluator: PolicyEvaluator,
  evidence: readonly Evidence[],
  policies: readonly CompiledPolicy[],
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of evidence) {
    const v = evaluator.evaluateImage(e, policies, now).verdict;
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

export function reEvaluateBench(rounds: number): ReEvaluateResult {
  const signer = testKey();
  const other = testKey();
  const trust: TrustMaterial = {
    generation: 1,
    publicGood: { root: publicGoodTrustedRoot(), stale: false },
    trustedRoots: new Map(),
    secretKeys: new Map(),
  };
  const evidence = evidenceSet(signer);
  const specs = policySpecs(signer, other);
  const evaluator = new PolicyEvaluator();
  const t0 = performance.now();
  const verdicts = evaluateAll(evaluator, evidence, compileAll(specs, 1, trust));
  const coldMs = performance.now() - t0;
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // A policy edit: new generations (compiling is part of the cost), same evidence and trust.
    const t = performance.now();
    evaluateAll(evaluator, evidence, compileAll(specs, r + 2, trust));
    times.push(performance.now() - t);
  }
  return {
    digests,
    policies: policyCount,
    componentsPerSbom,
    coldMs,
    reEvaluateMedianMs: median(times),
    reEvaluateP95Ms: quantile(times, 0.95),
    rounds,
    verdicts: Object.fromEntries(verdicts),
  };
}
