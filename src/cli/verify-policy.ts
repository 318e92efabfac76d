/**
 * `sigwatch verify --policy FILE`: images judged by the ImagePolicy documents
 * of a file, with the operator's evaluator. Loaded only with `--policy`: the
 * YAML parser, the policy compiler and the SBOM rules are not needed to check
 * one key or identity.
 */
import type { CompiledPolicy } from '../policy/compile.js';
import { PolicyEvaluator } from '../policy/evaluate.js';
import type { Output } from './context.js';
import { loadPolicyFile, trustMaterialFromFlags, type PolicyFileInputs } from './policy-file.js';
import type { Judge } from './verify-output.js';

/** How the policies of a file judge images, and what evidence they need. */
export interface PolicyPlan {
  readonly judge: Judge;
  /** Every `source.repository` the policies name, as written (`registry/repository`). */
  readonly sourceRepositories: readonly string[];
  /** Only policies with attestation or SBOM rules need the `.att` tags read. */
  readonly attestations: boolean;
}

/**
 * Loads and compiles the policy file; its warnings go to stderr.
 * @throws CliError `UsageError` for an unreadable or invalid file, key or trusted root.
 */
export function policyPlan(inputs: PolicyFileInputs, output: Output): PolicyPlan {
  const policies = loadPolicyFile(inputs, trustMaterialFromFlags(inputs));
  for (const p of policies) {
    for (const w of p.warnings)
      output.writeErr(`sigwatch: warning: policy ${p.name}: ${w.path}: ${w.message}\n`);
  }
  const sources = new Set(policies.flatMap((p) => p.authorities.flatMap((a) => a.sourceRepository ?? [])));
  return {
    judge: policyJudge(policies),
    sourceRepositories: [...sources],
    attestations: policies.some((p) => p.needsAttestations),
  };
}

/** Every policy of the file that matches the image, as the operator evaluates them. */
function policyJudge(policies: readonly CompiledPolicy[]): Judge {
  const evaluator = new PolicyEvaluator();
  return (evidence, image) => {
    const result = evaluator.evaluateImage(evidence, policies, evidence.fetchedAt);
    const decisive = result.policies.filter((p) => p.verdict === result.verdict);
    const message =
      result.verdict === 'Unmatched'
        ? `no policy in the file matches ${evidence.repository}`
        : result.verdict === 'Exempt'
          ? decisive.map((p) => `${p.policy}: ${p.exemptBecause ?? 'exempt'}`).join('; ')
          : decisive
              .flatMap((p) => p.findings.filter((f) => p.reasons.includes(f.reason)).map((f) => f.message))
              .join('; ');
    return {
      image,
      digest: evidence.digest,
      verdict: result.verdict,
      reasons: result.reasons,
      signers: result.policies.flatMap((p) => p.signers),
      ...(message === '' ? {} : { message }),
      policies: result.policies.map((p) => ({
        policy: p.policy,
        verdict: p.verdict,
        reasons: p.reasons,
        findings: p.findings,
        ...(p.exemptBecause === undefined ? {} : { exemptBecause: p.exemptBecause }),
        ...(p.validUntil === undefined ? {} : { validUntil: p.validUntil.toISOString() }),
      })),
    };
  };
}
