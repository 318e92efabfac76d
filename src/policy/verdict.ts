/**
 * Verdicts (design §3) as the evaluator returns them: per check, per policy
 * and per image, with the rules for combining them. The combination rules
 * are where the safety properties live:
 *
 * - inside a policy, a definite failure counts only when the evidence is
 *   complete; otherwise the policy's answer is Unknown (an outage never
 *   looks like a violation);
 * - across policies, every matching policy must pass: NonCompliant beats
 *   Unknown beats Exempt beats Compliant.
 */
import type { DefiniteReason, Reason, UnknownReason } from '../base/reasons.js';
import { isDefiniteReason } from '../base/reasons.js';

export type Verdict = 'Compliant' | 'NonCompliant' | 'Unknown' | 'Exempt';

/** One observation of one check; `message` is for humans, tests assert `reason`. */
export interface Finding {
  /** `signature`, `attestation:<name>`, `sbom`, `policy`. */
  readonly check: string;
  readonly reason: Reason;
  readonly message: string;
}

/** The outcome of one check of one policy. */
export interface CheckOutcome {
  readonly verdict: 'Compliant' | 'NonCompliant' | 'Unknown';
  readonly findings: readonly Finding[];
  /** When this outcome could change by itself; absent: not by time alone. */
  readonly validUntil?: Date;
}

export interface Signer {
  readonly authority: string;
  readonly format: string;
  readonly identity?: string;
  readonly issuer?: string;
}

export interface PolicyVerdict {
  readonly policy: string;
  readonly verdict: Verdict;
  /**
   * Definite reasons for NonCompliant, Unknown-class reasons for Unknown,
   * empty otherwise. Deduplicated, in check order.
   */
  readonly reasons: readonly Reason[];
  /** Everything the checks observed, including findings that did not decide the verdict. */
  readonly findings: readonly Finding[];
  readonly signers: readonly Signer[];
  /** The exception's reason when Exempt. */
  readonly exemptBecause?: string;
  readonly validUntil?: Date;
}

export interface ImageVerdict {
  /** `Unmatched` when no policy selects the image. */
  readonly verdict: Verdict | 'Unmatched';
  readonly reasons: readonly Reason[];
  readonly policies: readonly PolicyVerdict[];
  readonly validUntil?: Date;
}

export function compliant(validUntil?: Date): CheckOutcome {
  return { verdict: 'Compliant', findings: [], ...(validUntil === undefined ? {} : { validUntil }) };
}

export function nonCompliant(check: string, reason: DefiniteReason, message: string): CheckOutcome {
  return { verdict: 'NonCompliant', findings: [{ check, reason, message }] };
}

export function unknown(check: string, reasons: readonly UnknownReason[], message: string): CheckOutcome {
  return { verdict: 'Unknown', findings: reasons.map((reason) => ({ check, reason, message })) };
}

/** The earliest of the given instants, ignoring absent ones. */
export function earliest(...dates: readonly (Date | undefined)[]): Date | undefined {
  let min: Date | undefined;
  for (const d of dates) if (d !== undefined && (min === undefined || d < min)) min = d;
  return min;
}

const unique = <T>(items: readonly T[]): T[] => [...new Set(items)];

/**
 * Combines one policy's check outcomes. A NonCompliant check decides only on
 * complete evidence; on incomplete evidence it becomes Unknown with
 * `incompleteReasons` (its finding is kept for the report).
 */
export function combineChecks(
  policy: string,
  outcomes: readonly CheckOutcome[],
  evidenceComplete: boolean,
  incompleteReasons: readonly UnknownReason[],
  signers: readonly Signer[],
): PolicyVerdict {
  const findings = outcomes.flatMap((o) => o.findings);
  const validUntil = earliest(...outcomes.map((o) => o.validUntil));
  const base = { policy, findings, signers, ...(validUntil === undefined ? {} : { validUntil }) };
  const definite = unique(findings.map((f) => f.reason).filter(isDefiniteReason));
  const failed = outcomes.some((o) => o.verdict === 'NonCompliant');
  if (failed && evidenceComplete) return { ...base, verdict: 'NonCompliant', reasons: definite };
  const undecided = unique(findings.map((f) => f.reason).filter((r) => !isDefiniteReason(r)));
  if (failed) return { ...base, verdict: 'Unknown', reasons: unique([...undecided, ...incompleteReasons]) };
  if (outcomes.some((o) => o.verdict === 'Unknown'))
    return { ...base, verdict: 'Unknown', reasons: undecided };
  return { ...base, verdict: 'Compliant', reasons: [] };
}

/** How bad a verdict is: NonCompliant beats Unknown beats Exempt beats Compliant. */
export const verdictSeverity: Readonly<Record<Verdict, number>> = {
  NonCompliant: 3,
  Unknown: 2,
  Exempt: 1,
  Compliant: 0,
};

/** All matching policies must pass: the worst policy verdict is the image's. */
export function combinePolicies(policies: readonly PolicyVerdict[]): ImageVerdict {
  const validUntil = earliest(...policies.map((p) => p.validUntil));
  const tail = { policies, ...(validUntil === undefined ? {} : { validUntil }) };
  if (policies.length === 0) return { verdict: 'Unmatched', reasons: [], ...tail };
  let worst: Verdict = 'Compliant';
  for (const p of policies) if (verdictSeverity[p.verdict] > verdictSeverity[worst]) worst = p.verdict;
  const reasons = unique(policies.filter((p) => p.verdict === worst).flatMap((p) => p.reasons));
  return { verdict: worst, reasons, ...tail };
}
