/**
 * Leader election on a `coordination.k8s.io/v1` Lease (design §4.7), with
 * client-go's semantics: take the lease when it is free, expired or ours;
 * renew every retry period; stop leading when renewals have failed for the
 * renew deadline; release on shutdown so a successor starts at once. Writes
 * use the lease's resourceVersion, so two candidates can never both win.
 *
 * `holdsLeaseFor(margin)` is what writers check before each label or
 * eviction: leading is not enough, the lease must also outlast the write.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from './kube-http.js';
import type { Logger } from './logger.js';

export interface LeaderOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly clock?: () => number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** MicroTime: RFC 3339 with microseconds, as the API server stores it. */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

export class LeaderElector {
  private readonly http: KubeHttp;
  private leading = false;
  /** When our last successful renewal happened (our clock). */
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly options: LeaderOptions) {
    this.http = new KubeHttp(options.kubeConfig);
  }

  private now(): number {
    return this.options.clock?.() ?? Date.now();
  }

  private get path(): string {
    const { namespace, name } = this.options;
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`;
  }

  start(): void {
    this.tick();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Leading, and the lease we last renewed still has more than `marginMs` to run. */
  holdsLeaseFor(marginMs: number): boolean {
    return this.leading && this.renewedAt + this.options.leaseDurationMs - marginMs > this.now();
  }

  /** Stops trying; releases the lease if held so a successor takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.leading) {
      await this.release().catch((error: unknown) => {
        this.options.logger.warn('lease release failed', { error: String(error) });
      });
      this.setLeading(false);
    }
  }

  /** Test hook: vanish without releasing, as a killed process would. */
  abandon(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.attempt().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.tick();
      }, this.options.retryPeriodMs);
      this.timer.unref();
    });
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    try {
      if (leading) this.options.onStartedLeading();
      else this.options.onStoppedLeading();
    } catch (error: unknown) {
      this.options.logger.error('leader callback failed', { error: String(error) });
    }
  }

  private async attempt(): Promise<void> {
    const started = this.now();
    try {
      if (await this.tryAcquireOrRenew()) {
        this.renewedAt = started;
        this.setLeading(true);
        return;
      }
    } catch (error: unknown) {
      this.options.logger.warn('lease update failed', { error: String(error) });
    }
    // Not renewed: a leader keeps leading until the renew deadline passes, then steps down.
    if (this.leading && this.now() - this.renewedAt > this.options.renewDeadlineMs) this.setLeading(false);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const timeoutMs = Math.max(1000, this.options.retryPeriodMs);
    const now = this.now();
    const durationSeconds = Math.max(1, Math.round(this.options.leaseDurationMs / 1000));
    const got = await this.http.send({ method: 'GET', path: this.path, timeoutMs });
    if (got.status === 404) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.options.name, namespace: this.options.namespace },
        spec: {
          holderIdentity: this.options.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      const created = await this.http.send({
        method: 'POST',
        path: this.path.slice(0, this.path.lastIndexOf('/')),
        body: lease,
        timeoutMs,
      });
      return created.status === 201;
    }
    if (got.status !== 200) throw new Error(`GET lease: ${String(got.status)}`);
    const lease = got.body as Lease;
    const spec = lease.spec;
    const holder = spec.holderIdentity ?? '';
    const ours = holder === this.options.identity;
    if (!ours && holder !== '') {
      const renew = spec.renewTime === undefined ? 0 : Date.parse(spec.renewTime);
      // Expiry is judged on our clock from when we last saw the lease change, as client-go does
      // (clocks of different nodes are not compared): renewTime + duration, seen now.
      const expires = renew + (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (expires > now) return false;
    }
    const next: Lease = {
      ...lease,
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: ours && spec.acquireTime !== undefined ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
      },
    };
    const put = await this.http.send({ method: 'PUT', path: this.path, body: next, timeoutMs });
    if (put.status === 409) return false; // someone else wrote first
    if (put.status !== 200) throw new Error(`PUT lease: ${String(put.status)}`);
    return true;
  }

  private async release(): Promise<void> {
    const got = await this.http.send({ method: 'GET', path: this.path, timeoutMs: 5_000 });
    if (got.status !== 200) return;
    const lease = got.body as Lease;
    if (lease.spec.holderIdentity !== this.options.identity) return;
    const released: Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.now()) },
    };
    await this.http.send({ method: 'PUT', path: this.path, body: released, timeoutMs: 5_000 });
  }
}
