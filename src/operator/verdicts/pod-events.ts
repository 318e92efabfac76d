/**
 * Kubernetes Events for definite violations (design §4.5): one Warning per
 * (owner, digest, reason), at most one per owner every 10 minutes, so a
 * Deployment of 300 replicas running one unsigned image yields one Event,
 * not 300. Events are emitted on the pod (its owner is named in the
 * message); they are informational and never retried hard.
 *
 * The de-duplication survives restarts and leader changes: each Event
 * carries its key (kube/events.ts), and before the first Event in a
 * namespace this replica reads back the keys of the Events already there —
 * one paged list per namespace per term as leader, cached. Looking them up
 * costs `list` on Events; the alternative, a deterministic Event name whose
 * conflict says "already sent", would keep (owner, digest, reason) unique
 * but could not tell when an owner's or a refusal's quiet period began. What
 * the API server no longer holds (older than its `--event-ttl`, 1 h by
 * default) cannot be seen, and may be said again.
 */
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { TrimmedPod } from '../pod.js';
import { eventBody, eventKey, listEventKeys } from '../kube/events.js';

export interface ViolationEvent {
  readonly policy: string;
  readonly container: string;
  readonly image: string;
  readonly digest: string;
  readonly reason: string;
  readonly message: string;
}

export interface EventRecorderOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly mayWrite: () => boolean;
  readonly now: () => Date;
  /** Per-owner quiet period (default 10 minutes). */
  readonly ownerIntervalMs?: number;
  /** How long an emitted (owner, digest, reason) stays deduplicated (default 24 h). */
  readonly dedupeMs?: number;
  /** Events per page when a namespace's Events are read back (default 500; at most 20 pages). */
  readonly listPageSize?: number;
}

const maxRemembered = 100_000;
const maxPages = 20;

/** The key of a violation Event: its owner is the part after the first `|` (names hold no `|`). */
const violationKey = (owner: string, digest: string, reason: string): string =>
  eventKey(`violation|${owner}|${digest}|${reason}`);
const ownerOfKey = (key: string): string | undefined =>
  key.startsWith('violation|') ? key.split('|')[1] : undefined;

/** `key` emitted at `atMs`, unless a later emission is already known; bounded (at worst one repeat). */
function remember(map: Map<string, number>, key: string, atMs: number): void {
  if (atMs <= (map.get(key) ?? -Infinity)) return;
  if (map.size >= maxRemembered) map.clear();
  map.set(key, atMs);
}

export class EventRecorder {
  private readonly sent = new Map<string, number>();
  private readonly perOwner = new Map<string, number>();
  /** Namespaces whose Events were read back in this term (the promise of that read). */
  private readonly readBack = new Map<string, Promise<void>>();

  constructor(private readonly options: EventRecorderOptions) {}

  /**
   * Forgets what this replica emitted and read back (on gaining the lease):
   * another leader may have emitted meanwhile, and the API server holds it.
   */
  reset(): void {
    this.sent.clear();
    this.perOwner.clear();
    this.readBack.clear();
  }

  private ownerOf(pod: TrimmedPod): string {
    return pod.owner === undefined
      ? `${pod.namespace}/Pod/${pod.name}`
      : `${pod.namespace}/${pod.owner.kind}/${pod.owner.name}`;
  }

  /** Emits a Warning for `v` on `pod` unless deduplicated or rate-limited. Never throws. */
  async violation(pod: TrimmedPod, v: ViolationEvent): Promise<void> {
    if (!(await this.ready(pod.namespace))) return;
    const now = this.options.now().getTime();
    const owner = this.ownerOf(pod);
    const key = violationKey(owner, v.digest, v.reason);
    const last = this.sent.get(key);
    if (last !== undefined && now - last < (this.options.dedupeMs ?? 24 * 3600_000)) return;
    const ownerLast = this.perOwner.get(owner);
    if (ownerLast !== undefined && now - ownerLast < (this.options.ownerIntervalMs ?? 600_000)) return;
    remember(this.sent, key, now);
    remember(this.perOwner, owner, now);
    const ownerText = pod.owner === undefined ? 'bare pod' : `${pod.owner.kind} ${pod.owner.name}`;
    await this.post(
      pod,
      'Warning',
      v.reason,
      `${ownerText}: container ${v.container} runs ${v.image} (${v.digest}), which fails ImagePolicy ${v.policy}: ${v.message}`,
      now,
      key,
    );
  }

  /**
   * Emits an Event about an action on `pod` (an eviction, or why none
   * happened), once per `dedupeKey` within `quietMs` for the pod, or for its
   * owner (`per: 'owner'`: any pod of the workload counts). Never throws.
   */
  async action(
    pod: TrimmedPod,
    e: { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string },
    dedupeKey: string,
    quietMs: number,
    per: 'pod' | 'owner' = 'pod',
  ): Promise<void> {
    if (!(await this.ready(pod.namespace))) return;
    const now = this.options.now().getTime();
    const scope = per === 'owner' ? this.ownerOf(pod) : `${pod.namespace}/Pod/${pod.name}`;
    const key = eventKey(`action|${scope}|${dedupeKey}`);
    const last = this.sent.get(key);
    if (last !== undefined && now - last < quietMs) return;
    remember(this.sent, key, now);
    await this.post(pod, e.type, e.reason, e.message, now, key);
  }

  /** Whether this replica may write, once the namespace's Events were read back (the lease may go meanwhile). */
  private async ready(namespace: string): Promise<boolean> {
    if (!this.options.mayWrite()) return false;
    let read = this.readBack.get(namespace);
    if (read === undefined) {
      read = this.readNamespace(namespace);
      this.readBack.set(namespace, read);
    }
    await read;
    return this.options.mayWrite();
  }

  /** Adds the keys of the Events in `namespace` to what was sent; a failure is logged, and costs a repeat at worst. */
  private async readNamespace(namespace: string): Promise<void> {
    try {
      const { keys, complete } = await listEventKeys(this.options.kube, namespace, {
        pageSize: this.options.listPageSize ?? 500,
        maxPages,
        timeoutMs: 10_000,
      });
      // A time in the future (a skewed or hostile writer) counts as now: it silences one quiet period at most.
      const now = this.options.now().getTime();
      for (const [key, atMs] of keys) {
        const at = Math.min(atMs, now);
        remember(this.sent, key, at);
        const owner = ownerOfKey(key);
        if (owner !== undefined) remember(this.perOwner, owner, at);
      }
      if (!complete)
        this.options.logger.warn('events read back in part; older ones may be repeated', {
          namespace,
          keys: keys.size,
        });
    } catch (error: unknown) {
      this.options.logger.warn('events not read back; one may be repeated', {
        namespace,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private async post(
    pod: TrimmedPod,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now: number,
    key: string,
  ): Promise<void> {
    const body = eventBody(
      { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
      `${pod.name}.sigwatch-`,
      { type, reason, message },
      now,
      key,
    );
    try {
      const res = await this.options.kube.send({
        method: 'POST',
        path: `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`,
        body,
      });
      if (res.status !== 201)
        this.options.logger.warn('event refused', { pod: pod.name, status: res.status });
    } catch (error: unknown) {
      this.options.logger.warn('event not written', { pod: pod.name, error: String(error) });
    }
  }
}
