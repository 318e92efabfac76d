/**
 * Would evicting this pod help? (design §6): only if the pod that replaces
 * it runs a different digest — because the owner's template pins another
 * digest, or because the template's tag now resolves to a Compliant one.
 * Evicting a pod that comes back with the same image is a restart loop,
 * not a remedy.
 *
 * "The same image" includes an index and its platform manifests: a
 * template pinning an index whose entries include the running platform
 * manifest (or a tag resolving to one) brings back the same bytes.
 *
 * Pure: registry answers and verdicts come in through `ReplacementLookups`,
 * which answer synchronously or say `pending` (the pod is re-judged when
 * the answer arrives); anything not known yet is `unknown`, which waits.
 */
import type { Digest } from '../../base/digest.js';
import type { Repository } from '../../registry/client.js';
import { parseReference } from '../../registry/reference.js';
import type { Verdict } from '../../policy/verdict.js';
import type { Replacement } from './rules.js';
import type { RelatedAnswer, TagTarget } from '../evidence/related-digests.js';

export interface ReplacementLookups {
  /** The runnable platform manifests an index lists (`none` for a single manifest). */
  platformsOf(repo: Repository, digest: Digest): RelatedAnswer<readonly Digest[]>;
  tagTarget(repo: Repository, tag: string): RelatedAnswer<TagTarget>;
  /** The policy's verdict on a digest; undefined while its evidence is being fetched. */
  verdictOf(repo: Repository, digest: Digest): Verdict | undefined;
}

/** One failing container: what it runs, and what its owner's template names for it. */
export interface FailingContainer {
  readonly running: Digest;
  /** The image the template gives the container's replacement; undefined if the template lacks it. */
  readonly templateImage: string | undefined;
}

function forContainer(c: FailingContainer, look: ReplacementLookups): Replacement {
  if (c.templateImage === undefined) return 'unknown';
  let ref;
  try {
    ref = parseReference(c.templateImage);
  } catch {
    return 'unknown'; // a template the API server accepted but we cannot read: do not guess
  }
  const repo = { registry: ref.registry, repository: ref.repository };
  if (ref.digest !== undefined) {
    // Digests are content addresses: the same digest in any repository is the same image.
    if (ref.digest === c.running) return 'same';
    const platforms = look.platformsOf(repo, ref.digest);
    if (Array.isArray(platforms)) return platforms.includes(c.running) ? 'same' : 'different';
    // A single manifest cannot contain the running one. One the registry does not have (`unresolved`)
    // would leave the replacement unable to pull: never a reason to evict.
    return platforms === 'none' ? 'different' : 'unknown';
  }
  const target = look.tagTarget(repo, ref.tag ?? 'latest');
  // A tag that is gone would leave the replacement unable to pull: never a reason to evict.
  if (typeof target === 'string') return 'unknown';
  if (target.digest === c.running || target.listed.includes(c.running)) return 'same';
  const verdict = look.verdictOf(repo, target.digest);
  if (verdict === 'Compliant' || verdict === 'Exempt') return 'different';
  // The tag moved to another failing digest: the replacement would fail the same way.
  if (verdict === 'NonCompliant') return 'same';
  return 'unknown';
}

/**
 * The replacement of a pod whose `failing` containers fail the policy:
 * `different` only when every one of them would come back different;
 * `same` as soon as one would come back the same (the pod would fail again).
 */
export function predictReplacement(
  failing: readonly FailingContainer[],
  look: ReplacementLookups,
): Replacement {
  if (failing.length === 0) return 'unknown';
  const answers = failing.map((c) => forContainer(c, look));
  if (answers.includes('same')) return 'same';
  if (answers.includes('unknown')) return 'unknown';
  return 'different';
}
