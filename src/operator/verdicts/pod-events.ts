/**
 * Kubernetes Events for definite violations (design §4.5): one Warning per
 * (owner, digest, reason), at most one per owner every 10 minutes, so a
 * Deployment of 300 replicas running one unsigned image yields one Event,
 * not 300. Events are emitted on the pod (its owner is named in the
 * message); they are informational and never retried hard.
 */
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { TrimmedPod } from '../pod.js';
import { eventBody } from '../kube/events.js';

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
}

const maxRemembered = 100_000;

export class EventRecorder {
  private readonly sent = new Map<string, number>();
  private readonly perOwner = new Map<string, number>();

  constructor(private readonly options: EventRecorderOptions) {}

  private ownerOf(pod: TrimmedPod): string {
    return pod.owner === undefined
      ? `${pod.namespace}/Pod/${pod.name}`
      : `${pod.namespace}/${pod.owner.kind}/${pod.owner.name}`;
  }

  /** Emits a Warning for `v` on `pod` unless deduplicated or rate-limited. Never throws. */
  async violation(pod: TrimmedPod, v: ViolationEvent): Promise<void> {
    if (!this.options.mayWrite()) return;
    const now = this.options.now().getTime();
    const owner = this.ownerOf(pod);
    const id = `${owner}|${v.digest}|${v.reason}`;
    const last = this.sent.get(id);
    if (last !== undefined && now - last < (this.options.dedupeMs ?? 24 * 3600_000)) return;
    const ownerLast = this.perOwner.get(owner);
    if (ownerLast !== undefined && now - ownerLast < (this.options.ownerIntervalMs ?? 600_000)) return;
    this.sent.set(id, now);
    this.perOwner.set(owner, now);
    if (this.sent.size > maxRemembered) this.sent.clear(); // bounded memory; at worst one repeat Event
    const ownerText = pod.owner === undefined ? 'bare pod' : `${pod.owner.kind} ${pod.owner.name}`;
    await this.post(
      pod,
      'Warning',
      v.reason,
      `${ownerText}: container ${v.container} runs ${v.image} (${v.digest}), which fails ImagePolicy ${v.policy}: ${v.message}`,
      now,
    );
  }

  /**
   * Emits an Event about an action on `pod` (an eviction, or why none
   * happened), once per `dedupeKey` within `quietMs`. Never throws.
   */
  async action(
    pod: TrimmedPod,
    e: { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string },
    dedupeKey: string,
    quietMs: number,
  ): Promise<void> {
    if (!this.options.mayWrite()) return;
    const now = this.options.now().getTime();
    const id = `action|${pod.namespace}/${pod.name}|${dedupeKey}`;
    const last = this.sent.get(id);
    if (last !== undefined && now - last < quietMs) return;
    this.sent.set(id, now);
    if (this.sent.size > maxRemembered) this.sent.clear();
    await this.post(pod, e.type, e.reason, e.message, now);
  }

  private async post(
    pod: TrimmedPod,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now: number,
  ): Promise<void> {
    const body = eventBody(
      { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
      `${pod.name}.sigwatch-`,
      { type, reason, message },
      now,
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
