/**
 * The compliance audit report (design §2, ImageAudit): what `sigwatch audit`
 * prints and an ImageAudit run stores — per running image digest, its worst
 * verdict over the policies that match it, whether an authority of one of
 * those policies signed it, and whether a signed SBOM came with it; the
 * totals; the non-compliant list with reasons and pods; the pods no policy
 * selects. Pure: the caller judges, this counts and renders.
 *
 * `signed` counts only signatures verified by an authority of a matching
 * policy. A signature that is there but by a key or identity no matching
 * policy trusts is `signedUntrusted` — counted apart, never as signed.
 */
import type { Reason } from '../base/reasons.js';
import { combinePolicies, verdictSeverity, type PolicyVerdict, type Verdict } from '../policy/verdict.js';

/** Signature findings that mean "signed, but not by anyone a matching policy trusts". */
const untrustedReasons: ReadonlySet<Reason> = new Set([
  'KeyMismatch',
  'IdentityMismatch',
  'CertificateUntrusted',
]);

export type SignatureStanding = 'trusted' | 'untrusted' | 'unsigned' | 'unknown';

/** One running digest, judged. */
export interface JudgedImage {
  /** `registry/repository@digest`. */
  readonly image: string;
  /** How pod specs name it. */
  readonly references: readonly string[];
  /** `namespace/pod` of every pod running it. */
  readonly pods: readonly string[];
  /** The matching policies' verdicts. */
  readonly verdicts: readonly PolicyVerdict[];
  /** A signed SBOM attestation verified for it under some matching policy. */
  readonly signedSbom: boolean;
}

export interface ReportEntry {
  readonly image: string;
  readonly references: readonly string[];
  readonly pods: readonly string[];
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly signature: SignatureStanding;
  readonly signedSbom: boolean;
  readonly policies: readonly string[];
}

export interface AuditReport {
  readonly audit: { readonly namespace: string; readonly name: string };
  /** RFC 3339, when the run started. */
  readonly time: string;
  readonly images: number;
  readonly signed: number;
  readonly signedUntrusted: number;
  readonly withSbom: number;
  readonly compliant: number;
  readonly nonCompliant: number;
  readonly unknown: number;
  readonly exempt: number;
  /** (compliant + exempt) / images × 100, one decimal; 100 for no images. */
  readonly compliancePercent: number;
  /** Every judged image, non-compliant first, then unknown, then by name. */
  readonly entries: readonly ReportEntry[];
  /** `namespace/pod` of running pods no policy selects. */
  readonly unmatchedPods: readonly string[];
}

export function signatureStanding(verdicts: readonly PolicyVerdict[]): SignatureStanding {
  if (verdicts.some((v) => v.signers.length > 0)) return 'trusted';
  const signatureFindings = verdicts.flatMap((v) => v.findings.filter((f) => f.check === 'signature'));
  if (signatureFindings.some((f) => untrustedReasons.has(f.reason))) return 'untrusted';
  if (verdicts.some((v) => v.verdict === 'Unknown')) return 'unknown';
  return 'unsigned';
}

function entryOf(image: JudgedImage): ReportEntry {
  // The image's verdict as the evaluator combines matching policies (every one must pass).
  const combined = combinePolicies(image.verdicts);
  const verdict = combined.verdict === 'Unmatched' ? 'Unknown' : combined.verdict;
  const reasons = combined.reasons;
  return {
    image: image.image,
    references: [...image.references].sort(),
    pods: [...image.pods].sort(),
    verdict,
    reasons,
    signature: signatureStanding(image.verdicts),
    signedSbom: image.signedSbom,
    policies: image.verdicts.map((v) => v.policy).sort(),
  };
}

export function buildReport(a: {
  readonly audit: { readonly namespace: string; readonly name: string };
  readonly time: Date;
  readonly images: readonly JudgedImage[];
  readonly unmatchedPods: readonly string[];
}): AuditReport {
  const entries = a.images
    .map(entryOf)
    .sort(
      (x, y) =>
        verdictSeverity[y.verdict] - verdictSeverity[x.verdict] ||
        (x.image < y.image ? -1 : x.image > y.image ? 1 : 0),
    );
  const count = (p: (e: ReportEntry) => boolean): number => entries.filter(p).length;
  const compliant = count((e) => e.verdict === 'Compliant');
  const exempt = count((e) => e.verdict === 'Exempt');
  return {
    audit: a.audit,
    time: a.time.toISOString(),
    images: entries.length,
    signed: count((e) => e.signature === 'trusted'),
    signedUntrusted: count((e) => e.signature === 'untrusted'),
    withSbom: count((e) => e.signedSbom),
    compliant,
    nonCompliant: count((e) => e.verdict === 'NonCompliant'),
    unknown: count((e) => e.verdict === 'Unknown'),
    exempt,
    compliancePercent:
      entries.length === 0 ? 100 : Math.round(((compliant + exempt) * 1000) / entries.length) / 10,
    entries,
    unmatchedPods: [...a.unmatchedPods].sort(),
  };
}

const percent = (n: number, of: number): string =>
  of === 0 ? '-' : `${String(Math.round((n * 100) / of))}%`;
const shortDigest = (image: string): string => {
  const at = image.lastIndexOf('@');
  return at < 0 ? image : `${image.slice(at + 1, at + 1 + 19)}…`;
};

/** The human-readable table of design §2. */
export function renderTable(r: AuditReport): string {
  const lines = [
    `=== SUPPLY-CHAIN AUDIT ${r.audit.name} ${r.time} ===`,
    `Images: ${String(r.images)}   Signed: ${String(r.signed)} (${percent(r.signed, r.images)})   Signed by an untrusted key or identity: ${String(r.signedUntrusted)}   With SBOM: ${String(r.withSbom)} (${percent(r.withSbom, r.images)})   Compliant: ${String(r.compliant)} (${percent(r.compliant, r.images)})`,
  ];
  const section = (title: string, verdict: Verdict): void => {
    const rows = r.entries.filter((e) => e.verdict === verdict);
    if (rows.length === 0) return;
    lines.push(title);
    for (const e of rows) {
      const name = e.image.slice(0, e.image.lastIndexOf('@') < 0 ? undefined : e.image.lastIndexOf('@'));
      lines.push(`  ${name}  ${shortDigest(e.image)}  ${e.reasons.join(',') || '-'}  ${e.pods.join(' ')}`);
    }
  };
  section('NON-COMPLIANT', 'NonCompliant');
  section('UNKNOWN (not decided: never counted as a violation)', 'Unknown');
  if (r.unmatchedPods.length > 0) {
    lines.push(`UNMATCHED PODS (no policy selects them): ${String(r.unmatchedPods.length)}`);
    for (const p of r.unmatchedPods) lines.push(`  ${p}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `sigwatch audit`'s exit code: 1 if anything is NonCompliant, else 2 if anything is Unknown, else 0. */
export function auditExitCode(r: AuditReport): number {
  if (r.nonCompliant > 0) return 1;
  return r.unknown > 0 ? 2 : 0;
}
