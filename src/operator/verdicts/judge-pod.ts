/**
 * One pod judged (design §4): every container whose node-reported digest a
 * selecting policy matches, under each such policy, from the shared
 * evidence store; `match.signatureOn` combines related digests' verdicts.
 * The controller owns the queue, the timers and the writes; this is the
 * judging in between, with what it depends on passed in.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import type { PolicyVerdict } from '../../policy/verdict.js';
import type { Evidence } from '../../registry/evidence-types.js';
import type { EvidenceKey } from '../evidence/store.js';
import { actionable, type TrimmedPod } from '../pod.js';
import type { Judgement, VerdictMemory } from './pod-label.js';
import type { ContainerResult } from './policy-status.js';
import { matchedContainers } from './scope.js';
import { verdictBySignatureOn, type RelatedVerdictSources } from './related-verdicts.js';

export interface PodJudgeSources {
  /** The digest's evidence, tracked for these policies (its fetch starts when new); undefined until fetched. */
  readonly track: (key: EvidenceKey, policies: readonly ReadyPolicy[]) => Evidence | undefined;
  readonly evaluate: (evidence: Evidence, policy: ReadyPolicy, now: Date) => PolicyVerdict;
  /** Without it, `match.signatureOn` is not applied: every digest is judged by its own evidence. */
  readonly related: RelatedVerdictSources | undefined;
  readonly memory: VerdictMemory;
  /** Called for each verdict judged, with when its judging started (`performance.now()`), for metrics. */
  readonly judgedOne: (id: string, verdict: PolicyVerdict, started: number) => void;
  /** An equal digest id already held elsewhere, to keep in the results instead of this pod's own copy. */
  readonly sharedId?: (id: string) => string;
}

export interface PodJudgement {
  readonly results: readonly ContainerResult[];
  /** What the pod's label and annotations say: Enforce policies with `actions.label`, running containers. */
  readonly judgements: readonly Judgement[];
  /** The soonest time a verdict expires (a signature's or exception's end): judge again then. */
  readonly validUntil: Date | undefined;
  /** Every matched digest (and related digest) had evidence: a partial answer could be wrong either way. */
  readonly complete: boolean;
  /** Some container has a digest the node reported (a pod still Pending is not "unmatched"). */
  readonly reported: boolean;
}

/** Judges `pod` under `selecting`; adds every digest it looked at to `ids` (the pod's tracked digests). */
export function judgePod(
  key: string,
  pod: TrimmedPod,
  selecting: readonly ReadyPolicy[],
  ids: Set<string>,
  now: Date,
  sources: PodJudgeSources,
): PodJudgement {
  const judgements: Judgement[] = [];
  const results: ContainerResult[] = [];
  let validUntil: Date | undefined;
  let complete = true;
  const { reported, matched } = matchedContainers(pod, selecting);
  for (const { container: c, digest, key: evidenceKey, id: ownId, matching } of matched) {
    const id = sources.sharedId?.(ownId) ?? ownId;
    ids.add(id);
    const evidence = sources.track(evidenceKey, matching);
    if (evidence === undefined) {
      complete = false; // judged when the first fetch lands (the store's change callback)
      continue;
    }
    const act = actionable(pod, c);
    for (const p of matching) {
      const started = performance.now();
      const own = sources.evaluate(evidence, p, now);
      const v =
        sources.related === undefined
          ? own
          : verdictBySignatureOn(sources.related, {
              key,
              container: c,
              image: evidenceKey,
              evidence,
              policy: p,
              own,
              ids,
              now,
            });
      if (v === undefined) {
        complete = false; // related digests still being fetched; their arrival re-queues the pod
        continue;
      }
      sources.judgedOne(`${id}|${p.name}`, v, started);
      const message = v.findings[0]?.message ?? '';
      const effective = sources.memory.effective(id, p.name, {
        verdict: v.verdict,
        reasons: v.reasons,
        message,
      });
      if (v.validUntil !== undefined && (validUntil === undefined || v.validUntil < validUntil))
        validUntil = v.validUntil;
      results.push({
        policy: p.name,
        container: c.name,
        image: c.image,
        digest,
        digestKey: id,
        verdict: effective.verdict,
        current: v.verdict,
        stale: effective.stale,
        reasons: v.reasons,
        message,
        ...(effective.lastDefinite === undefined ? {} : { lastDefinite: effective.lastDefinite }),
        actionable: act,
        ...(v.validUntil === undefined ? {} : { validUntil: v.validUntil.getTime() }),
        evidenceAt: evidence.fetchedAt.getTime(),
      });
      if (act && p.spec.mode === 'Enforce' && p.spec.actions.label) {
        judgements.push({
          policy: p.name,
          verdict: effective.verdict,
          stale: effective.stale,
          reasons: effective.lastDefinite?.reasons ?? v.reasons,
        });
      }
    }
  }
  // Kept for as long as the pod runs: an array grown by push keeps room for 17 results.
  return { results: results.slice(), judgements, validUntil, complete, reported };
}
