/**
 * Would evicting this pod help? (design §6): only if the pod that replaces
 * it runs a different digest — because the owner's template pins another
 * digest, or because the template's tag brings a Compliant one. Evicting a
 * pod that comes back with the same image is a restart loop, not a remedy.
 *
 * "The same image" includes an index and its platform manifests: a
 * template pinning an index whose entries include the running platform
 * manifest (or a tag resolving to one) brings back the same bytes.
 *
 * What a tag brings depends on the node as much as on the registry: with
 * `imagePullPolicy: IfNotPresent` (or `Never`) the kubelet starts the copy
 * the node already holds under `repo:tag`, whatever the registry's tag
 * names now. The prediction reads the node the pod runs on: a replacement
 * is created with the same affinities and usually lands where the image is
 * cached, and guessing another node would only ever make an eviction look
 * more useful than it is. A node lists only its largest images (50 by
 * default): a full list without the tag means the node may hold an older
 * copy, so the replacement counts as `same` (no eviction; the Event says why).
 *
 * Pure: registry and node answers and verdicts come in through
 * `ReplacementLookups`, which answer synchronously or say `pending` (the pod
 * is re-judged when the answer arrives); anything not known yet is
 * `unknown`, which waits.
 */
import type { Digest } from '../../base/digest.js';
import type { Repository } from '../../registry/client.js';
import { parseReference, type ImageReference } from '../../registry/reference.js';
import type { Verdict } from '../../policy/verdict.js';
import type { Replacement } from './rules.js';
import type { RelatedAnswer, TagTarget } from '../evidence/related-digests.js';
import { wouldFailAgain } from './messages.js';
import { nodeStatusMaxImages, tagKey, type NodeImageIndex } from './node-images.js';

export interface ReplacementLookups {
  /** The runnable platform manifests an index lists (`none` for a single manifest). */
  platformsOf(repo: Repository, digest: Digest): RelatedAnswer<readonly Digest[]>;
  tagTarget(repo: Repository, tag: string): RelatedAnswer<TagTarget>;
  /** When `tagTarget`'s answer is next re-read (ms since the epoch); undefined while one is coming. */
  tagDueAt(repo: Repository, tag: string): number | undefined;
  /** What a node holds (its `status.images`); `unresolved` for a node that is gone. */
  nodeImages(node: string): RelatedAnswer<NodeImageIndex>;
  /** When `nodeImages`' answer is next re-read (ms since the epoch); undefined while one is coming. */
  nodeDueAt(node: string): number | undefined;
  /** The policy's verdict on a digest; undefined while its evidence is being fetched. */
  verdictOf(repo: Repository, digest: Digest): Verdict | undefined;
}

/** One failing container: what it runs, and what its owner's template names for it. */
export interface FailingContainer {
  readonly container: string;
  readonly running: Digest;
  /** The image the template gives the container's replacement; undefined if the template lacks it. */
  readonly templateImage: string | undefined;
  /** The template's `imagePullPolicy` as stored (the API server defaults it); undefined if absent. */
  readonly pullPolicy?: string | undefined;
}

/** What a failing container's replacement was predicted from: the loop guard compares it (loop-guard.ts). */
export interface PredictedImage {
  readonly container: string;
  readonly image: string;
  /** The digest the tag named in the registry, when the prediction asked the registry. */
  readonly tagTarget?: Digest;
  /** What the node holds under the tag: its digest, `absent` from a complete list, `unlisted` from a full one. */
  readonly nodeImage?: Digest | 'absent' | 'unlisted';
}

export interface Prediction {
  readonly replacement: Replacement;
  /** For `same`: why, for `EvictionWouldNotHelp` (messages.ts), about `container`. */
  readonly cause?: { readonly container: string; readonly text: string };
  /** When the first tag or node answer it rests on is re-read (ms): the pod is judged again then. */
  readonly recheckAt?: number;
  readonly images: readonly PredictedImage[];
}

type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

/**
 * The pull policy a container gets: as written, else what the API server
 * defaults — `Always` for `:latest` or no tag, `IfNotPresent` otherwise
 * (a digest reference pulls the same bytes under any policy).
 */
export function effectivePullPolicy(ref: ImageReference, written: string | undefined): PullPolicy {
  if (written === 'Always' || written === 'IfNotPresent' || written === 'Never') return written;
  return ref.digest === undefined && (ref.tag ?? 'latest') === 'latest' ? 'Always' : 'IfNotPresent';
}

interface Answer {
  replacement: Replacement;
  cause?: string;
  tagTarget?: Digest;
  nodeImage?: Digest | 'absent' | 'unlisted';
}

/** Whether `digest` is `running` or an index listing it; `unknown` while the index is not read. */
function sameBytes(repo: Repository, digest: Digest, running: Digest, look: ReplacementLookups): Replacement {
  if (digest === running) return 'same';
  const platforms = look.platformsOf(repo, digest);
  if (Array.isArray(platforms)) return platforms.includes(running) ? 'same' : 'different';
  // A single manifest cannot contain the running one; one the registry lacks leaves nothing to compare.
  return platforms === 'none' ? 'different' : 'unknown';
}

/** The node's copy of the tag, and whether a replacement running it would fail (`fails`: it is another failing digest). */
interface NodeCopy {
  readonly replacement: Replacement;
  readonly copy?: Digest;
  readonly fails?: boolean;
}

/** What a replacement runs when the node holds the tag: its copy, judged like any digest. */
function fromNode(
  c: FailingContainer,
  repo: Repository,
  held: readonly Digest[],
  look: ReplacementLookups,
): NodeCopy {
  // A tag listed without a repository digest (an image loaded by hand): what runs cannot be named.
  const copy = held.includes(c.running) ? c.running : held[0];
  if (copy === undefined) return { replacement: 'unknown' };
  const same = sameBytes(repo, copy, c.running, look);
  if (same !== 'different') return { replacement: same, copy };
  const verdict = look.verdictOf(repo, copy);
  if (verdict === 'Compliant' || verdict === 'Exempt') return { replacement: 'different', copy };
  return verdict === 'NonCompliant'
    ? { replacement: 'same', copy, fails: true }
    : { replacement: 'unknown', copy };
}

function forContainer(
  c: FailingContainer,
  node: string | undefined,
  look: ReplacementLookups,
  due: (at: number | undefined) => void,
): Answer {
  if (c.templateImage === undefined) return { replacement: 'unknown' };
  let ref;
  try {
    ref = parseReference(c.templateImage);
  } catch {
    return { replacement: 'unknown' }; // a template the API server accepted but we cannot read: do not guess
  }
  const repo = { registry: ref.registry, repository: ref.repository };
  if (ref.digest !== undefined) {
    // Digests are content addresses: the same digest in any repository is the same image, on any node.
    const replacement = sameBytes(repo, ref.digest, c.running, look);
    if (replacement !== 'same') return { replacement };
    return {
      replacement,
      cause:
        ref.digest === c.running
          ? wouldFailAgain.pinnedSame(ref.digest)
          : wouldFailAgain.pinnedIndex(ref.digest),
    };
  }
  const tag = ref.tag ?? 'latest';
  const repoTag = tagKey({ ...repo, tag });
  const pullPolicy = effectivePullPolicy(ref, c.pullPolicy);
  let nodeImage: Answer['nodeImage'];
  if (pullPolicy !== 'Always' && node !== undefined) {
    const images = look.nodeImages(node);
    due(look.nodeDueAt(node));
    // A node that is gone sends the replacement elsewhere: only the registry can say what it pulls there.
    if (typeof images === 'string' && images !== 'unresolved') return { replacement: 'unknown' };
    if (typeof images !== 'string') {
      const held = images.tags.get(repoTag);
      if (held !== undefined) {
        const r = fromNode(c, repo, held, look);
        if (r.copy === undefined) return { replacement: r.replacement };
        if (r.replacement !== 'same') return { replacement: r.replacement, nodeImage: r.copy };
        const text =
          r.fails === true
            ? wouldFailAgain.nodeFails(node, repoTag, r.copy, pullPolicy)
            : wouldFailAgain.nodeAgain(node, repoTag, r.copy, pullPolicy);
        return { replacement: 'same', cause: text, nodeImage: r.copy };
      }
      if (images.listed >= nodeStatusMaxImages)
        return {
          replacement: 'same',
          cause: wouldFailAgain.nodeUnlisted(node, images.listed, repoTag, pullPolicy),
          nodeImage: 'unlisted',
        };
      nodeImage = 'absent';
    }
  }
  // `Never` pulls nothing: without the node's copy the replacement cannot start.
  if (pullPolicy === 'Never') return { replacement: 'unknown' };
  const target = look.tagTarget(repo, tag);
  due(look.tagDueAt(repo, tag));
  const known = nodeImage === undefined ? {} : { nodeImage };
  // A tag that is gone would leave the replacement unable to pull: never a reason to evict.
  if (typeof target === 'string') return { replacement: 'unknown', ...known };
  const asked = { tagTarget: target.digest, ...known };
  if (target.digest === c.running || target.listed.includes(c.running))
    return { replacement: 'same', cause: wouldFailAgain.tagSame(repoTag, target.digest), ...asked };
  const verdict = look.verdictOf(repo, target.digest);
  if (verdict === 'Compliant' || verdict === 'Exempt') return { replacement: 'different', ...asked };
  // The tag moved to another failing digest: the replacement would fail the same way.
  if (verdict === 'NonCompliant')
    return { replacement: 'same', cause: wouldFailAgain.tagFails(repoTag, target.digest), ...asked };
  return { replacement: 'unknown', ...asked };
}

/**
 * The replacement of a pod on `node` (undefined while unbound) whose
 * `failing` containers fail the policy: `different` only when every one of
 * them would come back different; `same` as soon as one would come back
 * the same (the pod would fail again).
 */
export function predictReplacement(
  failing: readonly FailingContainer[],
  look: ReplacementLookups,
  node?: string,
): Prediction {
  let recheckAt: number | undefined;
  const due = (at: number | undefined): void => {
    if (at !== undefined && (recheckAt === undefined || at < recheckAt)) recheckAt = at;
  };
  const answers = failing.map((c) => ({ c, a: forContainer(c, node, look, due) }));
  const images: PredictedImage[] = answers.map(({ c, a }) => ({
    container: c.container,
    image: c.templateImage ?? '',
    ...(a.tagTarget === undefined ? {} : { tagTarget: a.tagTarget }),
    ...(a.nodeImage === undefined ? {} : { nodeImage: a.nodeImage }),
  }));
  const base = { images, ...(recheckAt === undefined ? {} : { recheckAt }) };
  const same = answers.find(({ a }) => a.replacement === 'same');
  if (same !== undefined)
    return {
      replacement: 'same',
      ...base,
      ...(same.a.cause === undefined ? {} : { cause: { container: same.c.container, text: same.a.cause } }),
    };
  if (answers.length === 0 || answers.some(({ a }) => a.replacement === 'unknown'))
    return { replacement: 'unknown', ...base };
  return { replacement: 'different', ...base };
}
