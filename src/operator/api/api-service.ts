/**
 * Puts the leader's CA into the APIService's `caBundle`, so the API server
 * trusts the replica the Service now selects. Written when this replica
 * starts leading and again after a failure while it still leads; the
 * ClusterRole allows `patch` on this one APIService by name and nothing
 * else. With a mounted certificate (cert-manager's CA injector fills the
 * bundle) nothing is published.
 */
import type { KubeHttp } from '../kube-http.js';
import type { Logger } from '../logger.js';

export const apiServiceName = 'v1alpha1.inventory.sigwatch.dev';

export class CaBundlePublisher {
  private retry: NodeJS.Timeout | undefined;
  /** Doubles per failure up to 5 minutes (an APIService left out of the install fails every time). */
  private delayMs: number | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: {
      readonly kube: KubeHttp;
      readonly logger: Logger;
      readonly leading: () => boolean;
      /** The CA to publish (PEM), read at each write: a rotated one goes out on the next. */
      readonly caPem: () => string;
      readonly retryMs?: number;
    },
  ) {}

  publish(): Promise<void> {
    clearTimeout(this.retry);
    this.queue = this.queue.then(() => this.write());
    return this.queue;
  }

  stop(): void {
    clearTimeout(this.retry);
  }

  private async write(): Promise<void> {
    if (!this.options.leading()) return;
    try {
      await this.options.kube.call({
        method: 'PATCH',
        path: `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`,
        body: { spec: { caBundle: Buffer.from(this.options.caPem()).toString('base64') } },
        contentType: 'application/merge-patch+json',
        timeoutMs: 10_000,
      });
      this.delayMs = undefined;
      this.options.logger.info('published the aggregated API CA', { apiService: apiServiceName });
    } catch (error: unknown) {
      this.options.logger.warn('publishing the aggregated API CA failed; retrying', {
        apiService: apiServiceName,
        error: error instanceof Error ? error.message : String(error),
      });
      if (!this.options.leading()) return;
      this.delayMs = Math.min(
        300_000,
        this.delayMs === undefined ? (this.options.retryMs ?? 5_000) : this.delayMs * 2,
      );
      this.retry = setTimeout(() => void this.publish(), this.delayMs);
      this.retry.unref();
    }
  }
}
