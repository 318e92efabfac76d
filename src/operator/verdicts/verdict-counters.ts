/**
 * The controller's verdict metrics: `sigwatch_verifications_total` and its
 * duration once per fresh result (a memoised answer is not a new
 * verification), and `sigwatch_pods{verdict="Unmatched"}` for in-scope pods
 * no policy selects.
 */
import type { PolicyVerdict } from '../../policy/verdict.js';
import type { OperatorMetrics } from '../metrics.js';

export class VerdictCounters {
  /** The last verdict counted per `digest|policy`: the evaluator's memo hands back the same object. */
  private readonly counted = new Map<string, PolicyVerdict>();
  private readonly unmatched = new Set<string>();

  constructor(private readonly metrics: OperatorMetrics | undefined) {}

  /** A verdict for `digest|policy` whose judging started at `started` (`performance.now()`). */
  verified(id: string, v: PolicyVerdict, started: number): void {
    if (this.counted.get(id) === v) return;
    this.counted.set(id, v);
    this.metrics?.recordVerification(
      v.policy,
      v.verdict,
      v.reasons[0] ?? '',
      (performance.now() - started) / 1000,
    );
  }

  /** No pod runs the digest any more. */
  forgetDigest(id: string): void {
    for (const k of this.counted.keys()) if (k.startsWith(`${id}|`)) this.counted.delete(k);
  }

  setUnmatched(pod: string, unmatched: boolean): void {
    if (unmatched === this.unmatched.has(pod)) return;
    if (unmatched) this.unmatched.add(pod);
    else this.unmatched.delete(pod);
    this.metrics?.setUnmatched(this.unmatched.size);
  }
}
