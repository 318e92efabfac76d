/**
 * Keeps the leader's CA in the APIService's `caBundle`, so the API server
 * trusts the replica the Service now selects. Written when this replica
 * starts leading, then checked every `reconcileMs` and rewritten whenever it
 * differs — a late write of a former leader, an APIService re-created by a
 * deploy, anything — but only while this replica holds the lease with time
 * to spare, and with the read's resourceVersion as a precondition, so two
 * replicas never fight over it. The ClusterRole allows `get`/`patch` on this
 * one APIService by name and nothing else. With a mounted certificate
 * (cert-manager's CA injector fills the bundle) nothing is published.
 */
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';

export const apiServiceName = 'v1alpha1.inventory.sigwatch.dev';
const path = `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`;

export class CaBundlePublisher {
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Logged once per streak: an APIService left out of the install fails every time. */
  private failing = false;

  constructor(
    private readonly options: {
      readonly kube: KubeHttp;
      readonly logger: Logger;
      /** Holds the lease with time to spare: checked before each write. */
      readonly leading: () => boolean;
      /** The bundle to publish (PEM), read at each check: a rotated CA goes out on the next. */
      readonly bundle: () => string;
      readonly reconcileMs?: number;
    },
  ) {}

  /** Checks every `reconcileMs`; `checked` hears whether the bundle was in place after each check. */
  start(checked: (inPlace: boolean) => void = () => undefined): void {
    this.timer = setInterval(() => void this.publish().then(checked), this.options.reconcileMs ?? 60_000);
    this.timer.unref();
  }

  /** Checks now (and writes if needed); serialised with the periodic checks. True: the bundle is in place. */
  publish(): Promise<boolean> {
    const done = this.queue.then(() => this.reconcile());
    this.queue = done.then(() => undefined);
    return done;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async reconcile(): Promise<boolean> {
    if (!this.options.leading()) return false;
    const want = Buffer.from(this.options.bundle()).toString('base64');
    try {
      const current = (await this.options.kube.call({ method: 'GET', path, timeoutMs: 10_000 })) as {
        metadata?: { resourceVersion?: string };
        spec?: { caBundle?: string };
      };
      this.failing = false;
      if (current.spec?.caBundle === want) return true;
      if (!this.options.leading()) return false;
      await this.options.kube.call({
        method: 'PATCH',
        path,
        body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, spec: { caBundle: want } },
        contentType: 'application/merge-patch+json',
        timeoutMs: 10_000,
      });
      this.options.logger.info('published the aggregated API CA', { apiService: apiServiceName });
      return true;
    } catch (error: unknown) {
      if (!this.failing)
        this.options.logger.warn('publishing the aggregated API CA failed; checking again shortly', {
          apiService: apiServiceName,
          error: error instanceof Error ? error.message : String(error),
        });
      this.failing = true;
      return false;
    }
  }
}
