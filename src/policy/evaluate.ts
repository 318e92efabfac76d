/**
 * The evaluator (design §3–4): (evidence, compiled policy, now) → verdict,
 * reasons and `validUntil`. Pure apart from its caches: no I/O, no clock,
 * and the same inputs always give the same answer.
 *
 * Memoised by (evidence object, policy key): the evidence object is the
 * evidence version (the store replaces it when anything changed) and the
 * policy key carries the policy generation and the trust generation. A
 * memoised verdict is reused until its `validUntil`.
 */
import type { DefiniteReason } from '../base/reasons.js';
import type { Evidence } from '../registry/evidence.js';
import { checkAttestation, type VerifiedAttestation } from '../verify/attestations.js';
import { incompleteReasons, servedButUnusable } from '../verify/evidence-candidates.js';
import { judgeSignatures } from '../verify/image-signatures.js';
import { isSbomPredicate, predicateMatches } from '../verify/predicate-types.js';
import { checkProvenance } from '../verify/provenance.js';
import type { RejectedSignature } from '../verify/result.js';
import type { CompiledAttestationRule, CompiledAuthority, CompiledPolicy, ReadyPolicy } from './compile.js';
import { matchesGlob } from './glob.js';
import { policyScope, withinScope } from './evidence-scope.js';
import { checkSbomRules } from './sbom-rules.js';
import { VerificationCache, type SbomReading, type SignedSbom } from './verification-cache.js';
import {
  combineChecks,
  combinePolicies,
  compliant,
  nonCompliant,
  unknown,
  type CheckOutcome,
  type ImageVerdict,
  type PolicyVerdict,
  type Signer,
} from './verdict.js';

/** Whether the policy selects the image (by `registry/repository` name; selectors are the operator's). */
export function policyMatches(policy: CompiledPolicy, image: string): boolean {
  return policy.images.some((g) => matchesGlob(g, image));
}

/** Failures that a stale trusted root cannot tell from new Sigstore infrastructure (design §3). */
const trustDependent: ReadonlySet<DefiniteReason> = new Set([
  'CertificateUntrusted',
  'TransparencyLogMissing',
]);

function staleTrustExplains(
  rejected: readonly RejectedSignature[],
  authorities: readonly CompiledAuthority[],
): boolean {
  const stale = new Set(authorities.filter((a) => a.staleTrust).map((a) => a.authority.name));
  return rejected.some((r) => stale.has(r.authority) && trustDependent.has(r.reason));
}

function sourceMessage(evidence: Evidence, fallback: string): string {
  return evidence.sources.find((s) => s.outcome === 'error' && s.item !== 'sbom')?.message ?? fallback;
}

const latest = (dates: readonly Date[]): Date | undefined =>
  dates.reduce<Date | undefined>((max, d) => (max === undefined || d > max ? d : max), undefined);

export class PolicyEvaluator {
  private readonly verification = new VerificationCache();
  private readonly memo = new WeakMap<Evidence, Map<string, PolicyVerdict>>();

  /** Every policy that matches the image, combined: all must pass. */
  evaluateImage(evidence: Evidence, policies: readonly CompiledPolicy[], now: Date): ImageVerdict {
    return combinePolicies(
      policies
        .filter((p) => policyMatches(p, evidence.repository))
        .map((p) => this.evaluate(evidence, p, now)),
    );
  }

  /** One policy's verdict for the digest in `evidence` (the caller checked that the policy matches). */
  evaluate(evidence: Evidence, policy: CompiledPolicy, now: Date): PolicyVerdict {
    let perEvidence = this.memo.get(evidence);
    const hit = perEvidence?.get(policy.key);
    if (hit !== undefined && (hit.validUntil === undefined || now < hit.validUntil)) return hit;
    const verdict = this.compute(evidence, policy, now);
    if (perEvidence === undefined) {
      perEvidence = new Map();
      this.memo.set(evidence, perEvidence);
    }
    perEvidence.set(policy.key, verdict);
    return verdict;
  }

  /**
   * The SBOMs in `evidence` that the policy's authorities signed (verified
   * attestations with an SBOM predicate that parsed), from the same cache
   * the verdicts use: the inventory asks without verifying anything again.
   */
  signedSboms(evidence: Evidence, policy: ReadyPolicy, now: Date): SignedSbom[] {
    const { verified } = this.attestationsUnder(evidence, policy, now);
    return this.sbomReadings(verified).flatMap((r) => (r.ok ? [r.value] : []));
  }

  /** Attestations under every authority of the policy, verified or rejected (cached per authority). */
  private attestationsUnder(
    evidence: Evidence,
    policy: ReadyPolicy,
    now: Date,
  ): { verified: VerifiedAttestation[]; rejected: RejectedSignature[] } {
    const verified: VerifiedAttestation[] = [];
    const rejected: RejectedSignature[] = [];
    for (const a of policy.authorities) {
      const collected = this.verification.attestations(evidence, a, now);
      verified.push(...collected.verified);
      rejected.push(...collected.rejected);
    }
    return { verified, rejected };
  }

  /** The SBOMs the verified attestations carry, parsed once (or why they did not parse). */
  private sbomReadings(verified: readonly VerifiedAttestation[]): SbomReading[] {
    return verified.flatMap((a): SbomReading[] =>
      isSbomPredicate(a.predicateType) ? [this.verification.sbom(a) ?? []].flat() : [],
    );
  }

  private compute(evidence: Evidence, policy: CompiledPolicy, now: Date): PolicyVerdict {
    if (!policy.ready) {
      const first = policy.problems[0];
      const more = policy.problems.length > 1 ? ` (and ${String(policy.problems.length - 1)} more)` : '';
      const message = first === undefined ? 'policy is not ready' : `${first.path}: ${first.message}${more}`;
      return {
        policy: policy.name,
        verdict: 'Unknown',
        reasons: ['PolicyNotReady'],
        findings: [{ check: 'policy', reason: 'PolicyNotReady', message }],
        signers: [],
      };
    }
    const exempt = policy.exceptions.filter(
      (e) => e.expires > now && e.images.some((g) => matchesGlob(g, evidence.repository)),
    );
    const until = latest(exempt.map((e) => e.expires));
    if (until !== undefined) {
      const longest = exempt.find((e) => e.expires.getTime() === until.getTime());
      return {
        policy: policy.name,
        verdict: 'Exempt',
        reasons: [],
        findings: [],
        signers: [],
        ...(longest === undefined ? {} : { exemptBecause: longest.reason }),
        validUntil: until,
      };
    }
    const signers: Signer[] = [];
    // Evidence that has not looked where the policy needs (fetched before an edit) is judged as incomplete:
    // `judged` decides, while verification stays cached on the evidence object itself.
    const judged = withinScope(evidence, policyScope(policy));
    const outcomes = [this.signatureOutcome(evidence, judged, policy, now, signers)];
    if (policy.needsAttestations) outcomes.push(...this.attestationOutcomes(evidence, judged, policy, now));
    return combineChecks(policy.name, outcomes, judged.complete, incompleteReasons(judged), signers);
  }

  private signatureOutcome(
    evidence: Evidence,
    judged: Evidence,
    policy: ReadyPolicy,
    now: Date,
    signers: Signer[],
  ): CheckOutcome {
    const results = policy.authorities.flatMap((a) => this.verification.signatures(evidence, a, now));
    const check = judgeSignatures(judged, results);
    switch (check.verdict) {
      case 'Compliant': {
        for (const a of check.accepted)
          signers.push({ authority: a.authority, format: a.format, ...a.signer });
        // A signature with a verified signing time stays valid; one judged at `now` ends with its certificate or key.
        const timeless = check.accepted.some((a) => a.signedAt !== undefined || a.validUntil === undefined);
        const validUntil = timeless ? undefined : latest(check.accepted.flatMap((a) => a.validUntil ?? []));
        return compliant(validUntil !== undefined && validUntil > now ? validUntil : undefined);
      }
      case 'NonCompliant': {
        if (staleTrustExplains(check.rejected, policy.authorities)) {
          return unknown('signature', ['TrustMaterialStale'], 'the public-good trusted root is stale');
        }
        const reason = check.reasons[0] ?? 'SignatureMissing';
        const message =
          check.message ??
          check.rejected.find((r) => r.reason === reason)?.message ??
          'no signature by any authority of the policy';
        return nonCompliant('signature', reason, message);
      }
      case 'Unknown':
        return unknown('signature', check.reasons, sourceMessage(judged, 'the evidence is incomplete'));
    }
  }

  private attestationOutcomes(
    evidence: Evidence,
    judged: Evidence,
    policy: ReadyPolicy,
    now: Date,
  ): CheckOutcome[] {
    const { verified, rejected } = this.attestationsUnder(evidence, policy, now);
    const outcomes = policy.attestations.map((rule) =>
      this.attestationOutcome(judged, policy, rule, verified, rejected),
    );
    const readings = this.sbomReadings(verified);
    const attLooked = judged.sources.some((s) => s.item === 'att');
    const unusable = servedButUnusable(judged, ['att', 'referrers']);
    outcomes.push(
      checkSbomRules(policy.sbom, readings, {
        decidable: judged.complete && attLooked,
        incompleteReasons: incompleteReasons(judged),
        ...(unusable?.kind === 'EvidenceLimitExceeded' ? { overLimits: unusable.message } : {}),
        now,
      }),
    );
    return outcomes;
  }

  private attestationOutcome(
    evidence: Evidence,
    policy: ReadyPolicy,
    rule: CompiledAttestationRule,
    verified: readonly VerifiedAttestation[],
    rejected: readonly RejectedSignature[],
  ): CheckOutcome {
    const name = `attestation:${rule.name}`;
    const check = checkAttestation(evidence, verified, rejected, rule.predicateType);
    switch (check.verdict) {
      case 'Compliant': {
        const requirement = rule.provenance;
        if (requirement === undefined) return compliant();
        const candidates = verified.filter((a) => predicateMatches(rule.predicateType, a.predicateType));
        const mismatches = candidates.map((a) => checkProvenance(a.statement, requirement));
        if (mismatches.includes(undefined)) return compliant();
        return nonCompliant(
          name,
          'ProvenanceMismatch',
          mismatches[0]?.message ?? 'provenance does not match',
        );
      }
      case 'NonCompliant': {
        if (staleTrustExplains(check.rejected, policy.authorities)) {
          return unknown(name, ['TrustMaterialStale'], 'the public-good trusted root is stale');
        }
        const reason = check.reasons[0] ?? 'AttestationMissing';
        const detail = check.message ?? check.rejected[0]?.message;
        return nonCompliant(
          name,
          reason,
          reason === 'AttestationMissing' || detail === undefined
            ? `no ${rule.predicateType} attestation verified by the policy authorities`
            : detail,
        );
      }
      case 'Unknown':
        return unknown(
          name,
          check.reasons,
          sourceMessage(evidence, 'the attestations could not all be read'),
        );
    }
  }
}
