/**
 * How `sigwatch verify` reports: one verdict per image, a table or JSON, and
 * the exit code (1 if any image definitely fails, else 2 if any is undecided).
 * Exempt and Unmatched images exit 0 like Compliant ones: nothing failed.
 */
import type { Evidence } from '../registry/evidence.js';
import type { Verdict } from '../policy/verdict.js';

/** Exit codes of `verify` (and later `audit`): a verdict, never confused with a usage error (64). */
export const VerdictExit = { Compliant: 0, NonCompliant: 1, Unknown: 2 } as const;

/** One image's outcome, as printed. */
export interface ImageVerdict {
  readonly image: string;
  readonly digest?: string;
  /** `Exempt` and `Unmatched` only with `--policy`. */
  readonly verdict: Verdict | 'Unmatched';
  readonly reasons: readonly string[];
  readonly signers: readonly { authority: string; format: string; identity?: string; issuer?: string }[];
  readonly message?: string;
  /** With `--policy`: each matching policy's verdict and what its checks found. */
  readonly policies?: readonly {
    readonly policy: string;
    readonly verdict: Verdict;
    readonly reasons: readonly string[];
    readonly findings: readonly { check: string; reason: string; message: string }[];
    readonly exemptBecause?: string;
    readonly validUntil?: string;
  }[];
}

/** Turns evidence about one image into the printed verdict: one authority, or the policies. */
export type Judge = (evidence: Evidence, image: string) => ImageVerdict;

export function formatTable(results: readonly ImageVerdict[]): string {
  const rows = results.map((r) => [
    r.image,
    r.digest === undefined ? '-' : `${r.digest.slice(0, 19)}…`,
    r.verdict,
    r.verdict === 'Compliant'
      ? r.signers.map((s) => s.identity ?? `${s.authority} (${s.format})`).join(', ')
      : [r.reasons.join(', '), r.message].filter((t) => t !== undefined && t !== '').join(': '),
  ]);
  const header = ['IMAGE', 'DIGEST', 'VERDICT', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function exitCodeFor(results: readonly ImageVerdict[]): number {
  if (results.some((r) => r.verdict === 'NonCompliant')) return VerdictExit.NonCompliant;
  if (results.some((r) => r.verdict === 'Unknown')) return VerdictExit.Unknown;
  return VerdictExit.Compliant;
}
