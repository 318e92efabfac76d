/**
 * A pod's standing under the evicting policies, read from its container
 * results (design §6): pure functions shared by the clock (reconciler.ts),
 * the per-pod decision (pod-decision.ts) and the circuit breaker, so that
 * all three read "NonCompliant" the same way.
 */
import type { ReadyPolicy } from '../../policy/compile.js';
import { parseDuration } from '../../policy/duration.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import type { PodStanding } from './new-violations.js';
import type { ClockInput } from './noncompliant-clock.js';

/** Whether the policy may evict at all: the only policies whose pods carry a clock. */
export const evicting = (p: ReadyPolicy): boolean =>
  p.spec.mode === 'Enforce' && p.spec.actions.evict.enabled;

/** A duration of the policy spec in ms; `fallback` if it does not parse (the schema should prevent that). */
export const durationMs = (text: string, fallback: number): number => parseDuration(text) ?? fallback;

/**
 * The pod's standing under one policy, from its actionable containers only
 * (design §6). `stale` also covers an Unknown with no definite verdict to
 * fall back on (a restart during an outage): that pauses the clock the
 * annotation kept, where resetting it would be news we do not have.
 */
export function standing(results: readonly ContainerResult[], policy: string): ClockInput {
  let stale = false;
  for (const r of results) {
    if (r.policy !== policy || !r.actionable) continue;
    if (r.current === 'NonCompliant') return 'fresh-noncompliant';
    if (r.current === 'Unknown' && (r.verdict === 'NonCompliant' || r.verdict === 'Unknown')) stale = true;
  }
  return stale ? 'stale' : 'other';
}

/**
 * The pod under one policy as the circuit breaker reads it: the digests of
 * its actionable containers with a definite verdict, fresh or stale —
 * failing (NonCompliant) or passing (Compliant, Exempt); an Unknown with no
 * definite verdict to fall back on is neither.
 */
export function breakerStanding(results: readonly ContainerResult[], policy: string): PodStanding {
  const failing: string[] = [];
  const passing: string[] = [];
  for (const r of results) {
    if (r.policy !== policy || !r.actionable) continue;
    if (r.verdict === 'NonCompliant') failing.push(r.digest);
    else if (r.verdict === 'Compliant' || r.verdict === 'Exempt') passing.push(r.digest);
  }
  return { failing, passing };
}

/** The clock's input over every evicting policy: fresh beats stale beats anything else. */
export function clockInput(standings: readonly ClockInput[]): ClockInput {
  if (standings.includes('fresh-noncompliant')) return 'fresh-noncompliant';
  return standings.includes('stale') ? 'stale' : 'other';
}

/** The containers the eviction is about: actionable and freshly NonCompliant under the policy. */
export const failingNow = (results: readonly ContainerResult[], policy: string): ContainerResult[] =>
  results.filter((r) => r.policy === policy && r.actionable && r.current === 'NonCompliant');
