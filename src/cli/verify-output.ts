/**
 * How `sigwatch verify` reports: one verdict per image, a table or JSON, and
 * the exit code (1 if any image definitely fails, else 2 if any is undecided).
 */
import type { SignatureCheck } from '../verify/image-signatures.js';

/** Exit codes of `verify` (and later `audit`): a verdict, never confused with a usage error (64). */
export const VerdictExit = { Compliant: 0, NonCompliant: 1, Unknown: 2 } as const;

/** One image's outcome, as printed. */
export interface ImageVerdict {
  readonly image: string;
  readonly digest?: string;
  readonly verdict: SignatureCheck['verdict'];
  readonly reasons: readonly string[];
  readonly signers: readonly { authority: string; format: string; identity?: string; issuer?: string }[];
  readonly message?: string;
}

export function formatTable(results: readonly ImageVerdict[]): string {
  const rows = results.map((r) => [
    r.image,
    r.digest === undefined ? '-' : `${r.digest.slice(0, 19)}…`,
    r.verdict,
    r.verdict === 'Compliant'
      ? r.signers.map((s) => s.identity ?? `${s.authority} (${s.format})`).join(', ')
      : `${r.reasons.join(', ')}${r.message ? `: ${r.message}` : ''}`,
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
