/**
 * The loop guard (design §6): the replacement prediction (replacement.ts)
 * can be wrong — a node's list of images is partial, a replacement lands on
 * another node, a runtime keeps an image the list no longer shows — and an
 * eviction that brings the failing image back is a restart loop. So each
 * eviction of a workload's pod records the conditions it was decided under
 * (the template's object and generation, per failing container the tag's
 * registry target and the node's copy) in the policy status, where a
 * restart finds it; and:
 *
 * - a pod of the same template created after the eviction that fails again
 *   for one of the same reasons marks the record as a loop (`EvictionLoop`
 *   condition, one Event): no further eviction of that workload for those
 *   reasons until a condition differs — a template edit, the tag moving,
 *   the node's copy changing;
 * - before that is known, a second eviction of the workload under the same
 *   conditions waits until a replacement of the first was judged and passed,
 *   when the prediction rested on a tag (the registry's or the node's copy):
 *   a pinned digest is the same bytes everywhere and needs no such proof.
 *
 * Pure: the reconciler gathers the records, pods and predictions.
 */
import type { EvictionLoop, EvictionRecord, PredictedReplacement } from '../verdicts/eviction-status.js';
import type { TrimmedPod } from '../pod.js';
import { asArray as arr, asObject as obj, asString as str } from '../../base/json.js';

/** What `guardEviction` answers for an eviction every other rule allows. */
export type GuardAnswer =
  | { readonly kind: 'allow' }
  /** The last eviction looped, but a condition changed since: the loop no longer holds. */
  | { readonly kind: 'released'; readonly record: EvictionRecord }
  /** The last eviction looped under these same conditions: never again. */
  | { readonly kind: 'stopped'; readonly record: EvictionRecord }
  /** The last eviction, under these same conditions, has no replacement judged and passing yet. */
  | { readonly kind: 'unproven'; readonly record: EvictionRecord };

/** Reasons are kept sorted and bounded: a record is a few hundred bytes of the policy status. */
export const maxRecordedReasons = 16;

export function recordedReasons(reasons: Iterable<string>): string[] {
  return [...new Set(reasons)].sort().slice(0, maxRecordedReasons);
}

/** Failing containers recorded per eviction. */
const maxPredictedImages = 32;

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;

/** A record's prediction; undefined when malformed (the record then guards nothing, as before the guard existed). */
export function readPredicted(v: unknown): PredictedReplacement | undefined {
  const p = obj(v);
  const controller = str(p?.['controller']);
  const generation = int(p?.['generation']);
  if (controller === undefined || generation === undefined) return undefined;
  const images = arr(p?.['images'])
    .slice(0, maxPredictedImages)
    .flatMap((i) => {
      const o = obj(i);
      const container = str(o?.['container']);
      const image = str(o?.['image']);
      const tagTarget = str(o?.['tagTarget']);
      const nodeImage = str(o?.['nodeImage']);
      if (container === undefined || image === undefined) return [];
      return [
        {
          container,
          image,
          ...(tagTarget === undefined ? {} : { tagTarget }),
          ...(nodeImage === undefined ? {} : { nodeImage }),
        },
      ];
    });
  const reasons = recordedReasons(arr(p?.['reasons']).flatMap((r) => str(r) ?? []));
  return { controller, generation, reasons, images };
}

/** A loop mark; a malformed one still counts as a loop (stopped is the safe reading). */
export function readLoop(v: unknown): EvictionLoop | undefined {
  if (v === undefined || v === null) return undefined;
  const l = obj(v);
  return {
    time: str(l?.['time']) ?? new Date(0).toISOString(),
    pod: str(l?.['pod']) ?? '',
    digest: str(l?.['digest']) ?? '',
  };
}

const imageKey = (i: PredictedReplacement['images'][number]): string =>
  `${i.container}\u0000${i.image}\u0000${i.tagTarget ?? ''}\u0000${i.nodeImage ?? ''}`;

/** Whether two evictions were decided under the same template, tag targets and node copies. */
export function sameConditions(a: PredictedReplacement, b: PredictedReplacement): boolean {
  if (a.controller !== b.controller || a.generation !== b.generation) return false;
  const keys = (p: PredictedReplacement): string => p.images.map(imageKey).sort().join('\u0001');
  return keys(a) === keys(b);
}

const overlap = (a: readonly string[], b: readonly string[]): boolean => a.some((r) => b.includes(r));

/**
 * Whether the workload's pod may be evicted, given its last eviction under
 * the policy (`last`) and whether a replacement of that eviction was seen
 * judged and passing (`proven`).
 */
export function guardEviction(
  last: EvictionRecord | undefined,
  now: PredictedReplacement,
  proven: boolean,
): GuardAnswer {
  const before = last?.predicted;
  if (last === undefined || before === undefined) return { kind: 'allow' };
  if (!overlap(before.reasons, now.reasons)) return { kind: 'allow' };
  const same = sameConditions(before, now);
  if (last.loop !== undefined)
    return same ? { kind: 'stopped', record: last } : { kind: 'released', record: last };
  const guessed = before.images.some((i) => i.tagTarget !== undefined || i.nodeImage !== undefined);
  return same && guessed && !proven ? { kind: 'unproven', record: last } : { kind: 'allow' };
}

/**
 * Whether `pod` replaced an eviction recorded in `record`: created from the
 * same template object at or after the eviction (creation times have whole
 * seconds). A sibling that ran before the eviction is not a replacement.
 */
export function isReplacement(record: EvictionRecord, pod: TrimmedPod): boolean {
  const controller = record.predicted?.controller;
  if (controller === undefined || pod.owner === undefined || pod.createdAt === undefined) return false;
  if (`${pod.owner.kind}/${pod.owner.name}` !== controller) return false;
  return Date.parse(pod.createdAt) >= Math.floor(Date.parse(record.time) / 1000) * 1000;
}

/**
 * What a judged replacement says about its eviction: `loop` when it is
 * freshly NonCompliant for one of the reasons the evicted pod failed with,
 * `passed` when it is neither NonCompliant nor waiting on an Unknown
 * (`passes`), else nothing yet.
 */
export function replacementOutcome(
  record: EvictionRecord,
  failingReasons: readonly string[],
  passes: boolean,
): 'loop' | 'passed' | 'other' {
  if (overlap(record.predicted?.reasons ?? [], failingReasons)) return 'loop';
  return passes && failingReasons.length === 0 ? 'passed' : 'other';
}
