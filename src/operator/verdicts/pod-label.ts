/**
 * The pod label of design §3, from the verdicts of the Enforce-mode, Ready,
 * `label: true` policies that judge the pod's actionable containers:
 *
 * - NonCompliant > Unknown > Compliant; Exempt counts as compliant and
 *   names the exempting policies in `sigwatch.dev/exempt-by`;
 * - an Unknown verdict keeps the digest's last definite verdict (marked
 *   stale); `unknown` appears only when the digest never had one, so an
 *   outage never turns a label into `noncompliant` nor drops it;
 * - `sigwatch.dev/reasons` (an annotation) explains the label: a stale
 *   verdict keeps its own definite reasons, never the Unknown ones.
 */
import type { Reason } from '../../base/reasons.js';
import type { Verdict } from '../../policy/verdict.js';

export const complianceLabel = 'sigwatch.dev/compliance';
export const exemptByAnnotation = 'sigwatch.dev/exempt-by';
export const reasonsAnnotation = 'sigwatch.dev/reasons';
export const staleAnnotation = 'sigwatch.dev/stale';

export type LabelValue = 'compliant' | 'noncompliant' | 'unknown';
type Definite = Exclude<Verdict, 'Unknown'>;

/** A definite verdict with what explains it, as it was last judged. */
export interface DefiniteVerdict {
  readonly verdict: Definite;
  readonly reasons: readonly Reason[];
  readonly message: string;
}

/**
 * The verdict to act on: `verdict` is the current one if definite, else the
 * last definite one (`stale`), whose reasons and message are in `lastDefinite`
 * — a stale NonCompliant is explained by its own definite reasons, never by
 * the Unknown reasons that made it stale.
 */
export interface EffectiveVerdict {
  readonly verdict: Verdict;
  readonly stale: boolean;
  /** Present only while stale. */
  readonly lastDefinite?: DefiniteVerdict;
}

/** Last definite verdict per (digest, policy). */
export class VerdictMemory {
  private readonly last = new Map<string, DefiniteVerdict>();

  /** The verdict to act on: the current one if definite (remembered), else the last definite one, stale. */
  effective(
    digestKey: string,
    policy: string,
    current: { readonly verdict: Verdict; readonly reasons: readonly Reason[]; readonly message: string },
  ): EffectiveVerdict {
    const id = `${digestKey}|${policy}`;
    if (current.verdict !== 'Unknown') {
      this.last.set(id, { verdict: current.verdict, reasons: current.reasons, message: current.message });
      return { verdict: current.verdict, stale: false };
    }
    const previous = this.last.get(id);
    return previous === undefined
      ? { verdict: 'Unknown', stale: false }
      : { verdict: previous.verdict, stale: true, lastDefinite: previous };
  }

  forgetDigest(digestKey: string): void {
    for (const id of this.last.keys()) if (id.startsWith(`${digestKey}|`)) this.last.delete(id);
  }

  forgetPolicy(policy: string): void {
    for (const id of this.last.keys()) if (id.endsWith(`|${policy}`)) this.last.delete(id);
  }
}

export interface Judgement {
  readonly policy: string;
  readonly verdict: Verdict;
  readonly stale: boolean;
  readonly reasons: readonly string[];
}

export interface PodMarks {
  /** Absent: no Enforce policy labels this pod; Sigwatch's labels and annotations are removed. */
  readonly label?: LabelValue;
  readonly annotations: Readonly<Record<string, string>>;
}

export function podMarks(judgements: readonly Judgement[]): PodMarks {
  if (judgements.length === 0) return { annotations: {} };
  const has = (v: Verdict): boolean => judgements.some((j) => j.verdict === v);
  const label: LabelValue = has('NonCompliant') ? 'noncompliant' : has('Unknown') ? 'unknown' : 'compliant';
  const annotations: Record<string, string> = {};
  const exempt = [...new Set(judgements.filter((j) => j.verdict === 'Exempt').map((j) => j.policy))].sort();
  if (exempt.length > 0 && label === 'compliant') annotations[exemptByAnnotation] = exempt.join(',');
  const worst = label === 'noncompliant' ? 'NonCompliant' : label === 'unknown' ? 'Unknown' : undefined;
  const reasons = [
    ...new Set(judgements.filter((j) => j.verdict === worst).flatMap((j) => j.reasons)),
  ].sort();
  if (reasons.length > 0) annotations[reasonsAnnotation] = reasons.join(',');
  if (judgements.some((j) => j.stale)) annotations[staleAnnotation] = 'true';
  return { label, annotations };
}

const ours = [complianceLabel];
const ourAnnotations = [exemptByAnnotation, reasonsAnnotation, staleAnnotation];

/**
 * The merge patch that brings the pod's labels and annotations to `marks`,
 * or undefined when they already agree (writes happen only on change).
 */
export function marksPatch(
  current: {
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
  },
  marks: PodMarks,
):
  | { metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> } }
  | undefined {
  const labels: Record<string, string | null> = {};
  for (const key of ours) {
    const want = key === complianceLabel ? marks.label : undefined;
    if (current.labels[key] !== want) labels[key] = want ?? null;
  }
  const annotations: Record<string, string | null> = {};
  for (const key of ourAnnotations) {
    const want = marks.annotations[key];
    if (current.annotations[key] !== want) annotations[key] = want ?? null;
  }
  const hasLabels = Object.keys(labels).length > 0;
  const hasAnnotations = Object.keys(annotations).length > 0;
  if (!hasLabels && !hasAnnotations) return undefined;
  return { metadata: { ...(hasLabels ? { labels } : {}), ...(hasAnnotations ? { annotations } : {}) } };
}
