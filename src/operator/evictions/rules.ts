/**
 * Whether one pod may be evicted now under one policy: every guard rail of
 * design §6, as a pure function of what the reconciler gathered. The order
 * is deliberate — refusals that can never change (wrong mode, protected
 * pod) come first, then the ones time may lift (the clock, the budget, the
 * owner's interval and readiness), and the "would the replacement differ"
 * rule last, because it is the only one that emits an Event
 * (`EvictionWouldNotHelp`): a pod that would be refused anyway should not
 * produce one.
 *
 * Every answer that is not `evict` names its reason, for logs and tests.
 */
import type { EvictableKind, ImagePolicySpec } from '../../policy/spec.js';
import { freshNoncompliantMs, type NoncompliantClock } from './noncompliant-clock.js';

/** Priority classes of the control plane and node agents: never evicted. */
export const criticalPriorityClasses: readonly string[] = ['system-cluster-critical', 'system-node-critical'];

export interface EvictionCandidate {
  readonly namespace: string;
  /** The controlling owner's kind; undefined for a bare pod. */
  readonly ownerKind?: string;
  readonly priorityClassName?: string;
  /** A static pod's mirror (annotation `kubernetes.io/config.mirror`). */
  readonly mirror: boolean;
  /** Namespaces the policy never acts in: system ones, its exclusions, the operator's own. */
  readonly protectedNamespace: boolean;
  /**
   * The pod's verdict under this policy from its actionable containers
   * (running containers and sidecars), never from ephemeral or terminated
   * init containers: `fresh-noncompliant` only for a fresh, definite one.
   */
  readonly verdict: 'fresh-noncompliant' | 'stale' | 'other';
  /** How long it has been freshly NonCompliant (noncompliant-clock.ts). */
  readonly clock: NoncompliantClock;
}

export interface EvictionBudget {
  /** This policy's evictions in the last hour (from its status, so restarts do not reset it). */
  readonly lastHour: number;
  /** When a pod of this owner was last evicted under any policy; undefined if never (in the kept history). */
  readonly ownerLastEvictedAt?: Date;
  /** The owner has all its desired replicas Ready (false when unknown; true for a bare pod, which has no replicas). */
  readonly ownerReady: boolean;
  /** The circuit breaker of the policy is open (EvictionsPaused=True, not confirmed). */
  readonly paused: boolean;
}

/** Whether the pod's replacement would run another digest (the owner's template pins one, or its tag resolves to a Compliant one). */
export type Replacement = 'different' | 'same' | 'unknown';

export type EvictionDecision =
  | { readonly kind: 'evict' }
  /** Not now; `retryAt` when time alone lifts the refusal. */
  | { readonly kind: 'wait'; readonly reason: string; readonly retryAt?: Date }
  | { readonly kind: 'never'; readonly reason: string }
  /** Everything else allows it, but the replacement would run the same digest: emit EvictionWouldNotHelp. */
  | { readonly kind: 'wouldNotHelp' };

/** Owner kinds evicted without being named in includeKinds (their replacements come from a template). */
const alwaysEvictable: readonly string[] = ['ReplicaSet', 'StatefulSet'];

function ownerEvictable(ownerKind: string | undefined, includeKinds: readonly EvictableKind[]): boolean {
  if (ownerKind === undefined) return includeKinds.includes('None');
  if (alwaysEvictable.includes(ownerKind)) return true;
  return (includeKinds as readonly string[]).includes(ownerKind);
}

export function evictionDecision(a: {
  readonly spec: ImagePolicySpec;
  /** `actions.evict.noncompliantFor` and `perOwnerInterval` in ms (compiled once per policy). */
  readonly noncompliantForMs: number;
  readonly perOwnerIntervalMs: number;
  readonly pod: EvictionCandidate;
  readonly budget: EvictionBudget;
  readonly replacement: Replacement;
  readonly now: Date;
}): EvictionDecision {
  const { spec, pod, budget, now } = a;
  const evict = spec.actions.evict;
  if (spec.mode !== 'Enforce') return { kind: 'never', reason: 'Audit mode never evicts' };
  if (!evict.enabled) return { kind: 'never', reason: 'evictions are not enabled' };
  if (pod.protectedNamespace) return { kind: 'never', reason: 'protected namespace' };
  if (pod.mirror) return { kind: 'never', reason: 'mirror pod of a static pod' };
  if (pod.priorityClassName !== undefined && criticalPriorityClasses.includes(pod.priorityClassName))
    return { kind: 'never', reason: `critical priority class ${pod.priorityClassName}` };
  if (!ownerEvictable(pod.ownerKind, evict.includeKinds))
    return {
      kind: 'never',
      reason: `owner kind ${pod.ownerKind ?? 'none (bare pod)'} is not in includeKinds`,
    };
  if (pod.verdict === 'stale') return { kind: 'wait', reason: 'the verdict is stale: the clock is paused' };
  if (pod.verdict !== 'fresh-noncompliant') return { kind: 'never', reason: 'not freshly NonCompliant' };
  const noncompliantMs = freshNoncompliantMs(pod.clock, now);
  if (noncompliantMs < a.noncompliantForMs) {
    return {
      kind: 'wait',
      reason: 'NonCompliant for less than noncompliantFor',
      retryAt: new Date(now.getTime() + a.noncompliantForMs - noncompliantMs),
    };
  }
  if (budget.paused) return { kind: 'wait', reason: 'evictions paused by the circuit breaker' };
  if (budget.lastHour >= evict.maxPerHour) return { kind: 'wait', reason: 'maxPerHour reached' };
  if (budget.ownerLastEvictedAt !== undefined) {
    const next = budget.ownerLastEvictedAt.getTime() + a.perOwnerIntervalMs;
    if (now.getTime() < next)
      return {
        kind: 'wait',
        reason: 'another pod of the owner was evicted within perOwnerInterval',
        retryAt: new Date(next),
      };
  }
  if (!budget.ownerReady) return { kind: 'wait', reason: 'the owner does not have all its replicas Ready' };
  if (a.replacement === 'unknown') return { kind: 'wait', reason: 'the replacement digest is not known yet' };
  if (a.replacement === 'same') return { kind: 'wouldNotHelp' };
  return { kind: 'evict' };
}

export const confirmEvictionsAnnotation = 'sigwatch.dev/confirm-evictions';

/**
 * The circuit breaker's trip rule (design §6): one change — a policy
 * generation, a trust-material change or one time-driven transition — that
 * turns more than `maxPercent` of the policy's matched pods newly
 * NonCompliant looks like a mistake (a wrong key, a too-broad deny rule)
 * more than like that many bad pods, so evictions stop until a human says
 * otherwise.
 */
export function breakerTrips(newlyNonCompliant: number, matchedPods: number, maxPercent: number): boolean {
  return matchedPods > 0 && newlyNonCompliant * 100 > maxPercent * matchedPods;
}

/**
 * Whether a tripped breaker still holds: until the policy's annotation
 * `sigwatch.dev/confirm-evictions` names the generation current when it
 * tripped or a later one (a newer generation is a newer human decision) —
 * and is not the value the annotation already had when it tripped: a
 * confirmation answers one trip, never a later one at the same generation
 * (a trust-material change, time passing). To confirm at a generation the
 * annotation already names, append anything after a slash: `3/again`.
 */
export function stillPaused(
  trip: { readonly generation: number; readonly confirmationAtTrip?: string },
  confirmation: string | undefined,
): boolean {
  if (confirmation === undefined || confirmation === trip.confirmationAtTrip) return true;
  const m = /^\s*(\d{1,15})(?:\/.*)?$/.exec(confirmation);
  if (m?.[1] === undefined) return true;
  return Number(m[1]) < trip.generation;
}
