/**
 * The label by which the Service reaches the leader (design §4.7): the
 * leader puts `sigwatch.dev/leader=true` on its own pod and takes it off
 * when it steps down.
 *
 * A leader that crashed cannot take its label off, and a container restart
 * keeps the pod (and its labels). So every replica clears its own label
 * before campaigning, and a new leader clears the label from any other pod
 * of its namespace: the Service must never select a replica that would
 * only redirect.
 */
import { KubeError, type KubeHttp } from './client.js';
import type { Logger } from './logger.js';

export const leaderLabel = 'sigwatch.dev/leader';

export interface LeaderLabelOptions {
  readonly kube: KubeHttp;
  readonly namespace: string;
  /** This replica's pod (`$POD_NAME`); without one (run outside a pod) nothing is labelled. */
  readonly podName: string | undefined;
  readonly logger: Logger;
  /** Whether this replica still leads with time to spare: checked before each leader-only write. */
  readonly leading: () => boolean;
  readonly timeoutMs?: number;
  /** A failed `lead()` is tried again after this long while still leading (default 5 s). */
  readonly retryMs?: number;
}

export class LeaderLabel {
  /** Serialises the patches, so a quick lead-lose-lead sequence lands in order. */
  private queue: Promise<void> = Promise.resolve();
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly options: LeaderLabelOptions) {}

  /**
   * Marks this pod as the leader's and unmarks any other in the namespace.
   * Each write first checks that this replica still leads (a late step of a
   * former leader must not unlabel its successor); a failure is retried
   * while it leads, since nothing else would label it this term.
   */
  lead(): Promise<void> {
    clearTimeout(this.retry);
    const { podName, leading } = this.options;
    return this.enqueue(
      async () => {
        if (podName === undefined || !leading()) return;
        await this.patch(podName, 'true');
        for (const other of await this.labelledPods()) {
          if (other === podName) continue;
          if (!leading()) return;
          await this.patch(other, null);
        }
      },
      () => {
        if (!leading()) return;
        this.retry = setTimeout(() => void this.lead(), this.options.retryMs ?? 5_000);
        this.retry.unref();
      },
    );
  }

  /** Takes the label off this pod (on stepping down, and before campaigning), if it is there: a follower writes nothing it need not. */
  follow(): Promise<void> {
    clearTimeout(this.retry);
    return this.enqueue(async () => {
      const { podName } = this.options;
      if (podName !== undefined && (await this.labelledPods()).includes(podName))
        await this.patch(podName, null);
    });
  }

  /** Resolves once every patch asked for so far is done (for shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(step: () => Promise<void>, onFailure?: () => void): Promise<void> {
    const next = this.queue.then(step).catch((error: unknown) => {
      // Not fatal: meanwhile the Service reaches a follower, which redirects.
      this.options.logger.warn('could not update the leader label', {
        pod: this.options.podName,
        error: error instanceof Error ? error.message : String(error),
      });
      onFailure?.();
    });
    this.queue = next;
    return next;
  }

  private async patch(pod: string, value: 'true' | null): Promise<void> {
    const res = await this.options.kube.send({
      method: 'PATCH',
      path: `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/pods/${encodeURIComponent(pod)}`,
      body: { metadata: { labels: { [leaderLabel]: value } } },
      timeoutMs: this.options.timeoutMs ?? 10_000,
    });
    // A pod that is gone needs no label taken off.
    if (res.status === 404 && value === null) return;
    if (res.status < 200 || res.status > 299) {
      throw new KubeError('KubeRequestFailed', `PATCH pod ${pod}: HTTP ${String(res.status)}`, res.status);
    }
  }

  private async labelledPods(): Promise<string[]> {
    const selector = encodeURIComponent(`${leaderLabel}=true`);
    const body = (await this.options.kube.call({
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/pods?labelSelector=${selector}`,
      timeoutMs: this.options.timeoutMs ?? 10_000,
    })) as { items?: { metadata?: { name?: unknown } }[] } | undefined;
    return (body?.items ?? []).flatMap((p) =>
      typeof p.metadata?.name === 'string' ? [p.metadata.name] : [],
    );
  }
}
