/**
 * What a node already holds, for predicting a replacement (design §6): a
 * replacement whose container has `imagePullPolicy: IfNotPresent` (the
 * API server's default for a tag other than `latest`) runs the node's
 * cached `repo:tag` whatever the registry's tag names now.
 *
 * The kubelet reports the node's images in `status.images[]`: each entry's
 * `names` hold its `repo:tag` and `repo@sha256:` names, and only the
 * `--node-status-max-images` largest entries are listed (50 by default), so
 * a tag missing from a list that long may still be on the node.
 *
 * A Node is read with GET when an eviction is considered — rarely, so no
 * watch of every Node is kept — and its answer is cached for `ttlMs`
 * (30 s). Like RelatedDigests the lookup is synchronous: an answer,
 * `pending` while the GET runs (the pods that asked are named back through
 * `onResolved` when it ends), `failed` (retried after `ttlMs`, the waiting
 * pods named back then), or `unresolved` for a node that is gone. Only the
 * leader reads (`active`).
 */
import { parseDigest, type Digest } from '../../base/digest.js';
import { asArray, asObject, asString } from '../../base/json.js';
import { formatReference, parseReference, type ImageReference } from '../../registry/reference.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { RelatedAnswer } from '../evidence/related-digests.js';

/** The kubelet's default `--node-status-max-images`: a list this long may leave images out. */
export const nodeStatusMaxImages = 50;

/** What a node's `status.images` says, reduced to what a prediction reads. */
export interface NodeImageIndex {
  /** Entries listed (all of them, also beyond what was read). */
  readonly listed: number;
  /** Canonical `registry/repository:tag` → the digests its entry names (`repo@sha256:` names). */
  readonly tags: ReadonlyMap<string, readonly Digest[]>;
}

/** Bounds for a hostile or enormous status: entries and names per entry read. */
const maxEntries = 1000;
const maxNamesPerEntry = 64;

const parsed = (name: string): ImageReference | undefined => {
  // An image ID (`sha256:…`) would otherwise read as repository `sha256` with a tag.
  if (parseDigest(name) !== undefined) return undefined;
  try {
    return parseReference(name);
  } catch {
    return undefined; // a name the runtime made up (`sha256:…` image IDs, `<none>`): not a pull reference
  }
};

/** The canonical `registry/repository:tag` a tag reference is listed under. */
export const tagKey = (ref: { registry: string; repository: string; tag: string }): string =>
  formatReference({ registry: ref.registry, repository: ref.repository, tag: ref.tag });

/**
 * Indexes a Node object's `status.images`. For each `repo:tag` name, the
 * digests of the same entry: those of the same repository when it has any
 * (what a pull of that tag recorded), else every digest the entry names
 * (a digest is a content address in any repository).
 */
export function indexNodeImages(node: unknown): NodeImageIndex {
  const images = asArray(asObject(asObject(node)?.['status'])?.['images']);
  const tags = new Map<string, Digest[]>();
  for (const entry of images.slice(0, maxEntries)) {
    const refs = asArray(asObject(entry)?.['names'])
      .slice(0, maxNamesPerEntry)
      .flatMap((n) => {
        const name = asString(n);
        const ref = name === undefined ? undefined : parsed(name);
        return ref === undefined ? [] : [ref];
      });
    // A name with a digest is `repo@sha256:…`; parseReference gives every other name the tag it has (or `latest`).
    const digests = refs.flatMap((r) => (r.digest === undefined ? [] : [{ ...r, digest: r.digest }]));
    for (const r of refs) {
      if (r.digest !== undefined || r.tag === undefined) continue;
      const sameRepo = digests.filter((d) => d.registry === r.registry && d.repository === r.repository);
      const held = (sameRepo.length > 0 ? sameRepo : digests).map((d) => d.digest);
      const key = tagKey({ ...r, tag: r.tag });
      tags.set(key, [...new Set([...(tags.get(key) ?? []), ...held])]);
    }
  }
  return { listed: images.length, tags };
}

export interface NodeImagesOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly active: () => boolean;
  /** Called with the pod keys that asked while a read was running or failed, once it ends or is due again. */
  readonly onResolved: (waiters: ReadonlySet<string>) => void;
  /** How long an answer is used before the Node is read again (default 30 s). */
  readonly ttlMs?: number;
  /** Nodes kept; the least recently asked are dropped beyond it (default 2,000). */
  readonly maxNodes?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

interface Held {
  answer: NodeImageIndex | 'unresolved' | 'failed' | undefined;
  readAt: number;
  reading: boolean;
  wake?: NodeJS.Timeout | undefined;
  readonly waiting: Set<string>;
}

export class NodeImages {
  private readonly nodes = new Map<string, Held>();
  private readonly stopped = new AbortController();

  constructor(private readonly options: NodeImagesOptions) {}

  private get ttlMs(): number {
    return this.options.ttlMs ?? 30_000;
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** What `node` holds, as last read; starts a read when none is fresh. */
  imagesOf(node: string, waiter: string): RelatedAnswer<NodeImageIndex> {
    let held = this.nodes.get(node);
    if (held === undefined) {
      held = { answer: undefined, readAt: 0, reading: false, waiting: new Set() };
      if (this.nodes.size >= (this.options.maxNodes ?? 2000)) {
        const oldest = this.nodes.entries().next().value;
        if (oldest !== undefined) {
          clearTimeout(oldest[1].wake);
          this.nodes.delete(oldest[0]);
        }
      }
    } else this.nodes.delete(node); // re-inserted below: the least recently asked go first
    this.nodes.set(node, held);
    const stale = held.answer === undefined || this.now() - held.readAt >= this.ttlMs;
    if (stale && !held.reading && this.options.active()) this.read(node, held);
    if (held.reading || held.answer === 'failed') held.waiting.add(waiter);
    return held.answer ?? 'pending';
  }

  /** When the answer `imagesOf` gives for `node` is next read again (ms); undefined while one is coming. */
  dueAt(node: string): number | undefined {
    const held = this.nodes.get(node);
    if (held?.answer === undefined || held.reading || held.answer === 'failed') return undefined;
    return held.readAt + this.ttlMs;
  }

  stop(): void {
    this.stopped.abort();
    for (const held of this.nodes.values()) clearTimeout(held.wake);
  }

  private read(node: string, held: Held): void {
    held.reading = true;
    clearTimeout(held.wake);
    const signal = AbortSignal.any([
      this.stopped.signal,
      AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
    ]);
    const path = `/api/v1/nodes/${encodeURIComponent(node)}`;
    void this.options.kube
      .getOptional(path, this.options.timeoutMs ?? 10_000, signal)
      .then(
        (object) => {
          held.answer = object === undefined ? 'unresolved' : indexNodeImages(object);
        },
        (error: unknown) => {
          // Never an answer: `failed` is Unknown to the prediction, which then does not evict.
          held.answer = 'failed';
          this.options.logger.warn('could not read the node a replacement would start on', {
            node,
            error: error instanceof Error ? error.message : String(error),
          });
        },
      )
      .finally(() => {
        held.readAt = this.now();
        held.reading = false;
        if (this.stopped.signal.aborted) return;
        this.wakeWaiting(held);
        // The pods that met a failure hear again when the next read is due; nothing else re-judges them.
        if (held.answer === 'failed') {
          held.wake = setTimeout(() => {
            this.wakeWaiting(held);
          }, this.ttlMs);
          held.wake.unref();
        }
      });
  }

  private wakeWaiting(held: Held): void {
    if (held.waiting.size === 0) return;
    const keys = new Set(held.waiting);
    held.waiting.clear();
    this.options.onResolved(keys);
  }
}
