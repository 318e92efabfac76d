/**
 * Leader election on a `coordination.k8s.io/v1` Lease (design §4.7), with
 * client-go's leaderelection semantics:
 *
 * - A candidate takes the lease when it is absent, released (empty holder),
 *   ours, or expired. Expiry is judged as client-go judges it: the lease's
 *   `leaseDurationSeconds` counted on *our* monotonic clock from when we first
 *   saw its current record, never by comparing the holder's `renewTime` with
 *   our wall clock, so clock skew between nodes cannot steal a live lease.
 * - Every write carries the resourceVersion we read; a 409 means someone else
 *   wrote first, and we simply read again next period. Two candidates can
 *   never both win.
 * - The leader renews every retry period. If it cannot renew for the renew
 *   deadline (in-flight requests are aborted at that moment) it steps down;
 *   since renewDeadline < leaseDuration, it stops before anyone else can
 *   start. Seeing another holder on a valid lease steps down at once.
 * - `stop()` releases the lease (empty holder, 1 s duration, as client-go's
 *   ReleaseOnCancel) so a successor takes over on its next attempt.
 *
 * MicroTime: the API server requires six fractional digits in
 * `acquireTime`/`renewTime` (a JavaScript ISO string's three are refused with
 * 400), so times are written by `microTime`; times read are parsed from
 * whatever arrived, never trusted to be well-formed.
 */
import { KubeError, type KubeHttp } from './client.js';
import { describeError, SigwatchError } from '../../base/errors.js';
import { isJsonObject } from '../../base/json.js';
import {
  leaseOf,
  leasePath,
  leasesPath,
  microTime,
  toMillis,
  toMicroTime,
  withSpec,
  type Lease,
  type LeaseSpec,
} from './lease.js';

/** The part of the operator's logger this module uses. */
export interface LeaderLogger {
  info(message: string, meta?: object): void;
  warn(message: string, meta?: object): void;
  error(message: string, meta?: object): void;
}

export interface LeaderOptions {
  /** Best without a write limiter: a renewal must not wait behind other writes. */
  readonly kube: KubeHttp;
  readonly namespace: string;
  /** Lease name, e.g. `sigwatch-leader`. */
  readonly name: string;
  /** Unique per process (pod name plus a random suffix): a restarted pod must not mistake the old lease for its own. */
  readonly identity: string;
  /** How long a lease stays valid without renewal. Default 15 000. */
  readonly leaseDurationMs?: number;
  /** A leader that could not renew for this long steps down; must be below leaseDurationMs. Default 10 000. */
  readonly renewDeadlineMs?: number;
  /** Time between attempts to acquire or renew; must be below renewDeadlineMs. Default 2 000. */
  readonly retryPeriodMs?: number;
  readonly logger: LeaderLogger;
  /** Called once per acquisition; an exception is logged, never propagated. */
  readonly onStartedLeading: () => void;
  /** Called once per loss (step-down, another holder, release on stop); exceptions are logged. */
  readonly onStoppedLeading: () => void;
  /** Monotonic milliseconds for lease bookkeeping; default `performance.now()`. */
  readonly clock?: () => number;
}

export type LeaderErrorCode = 'LeaseTimingInvalid';

/** Thrown by the constructor only; the election itself never throws. */
export class LeaderError extends SigwatchError<LeaderErrorCode> {}

/** client-go's JitterFactor is 1.2; a smaller one keeps takeover bounded near leaseDuration + 2 retry periods. */
const followerJitter = 0.2;

type Outcome = 'held' | 'heldByOther' | 'conflict';

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly lifetime = new AbortController();
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private leading = false;
  /** Clock time at which our last successful write was *sent* (conservative: the lease runs from later). */
  private renewedAt = Number.NEGATIVE_INFINITY;
  /** The lease record as last seen and when we first saw it (our clock), for expiry. */
  private observed: { readonly record: string; readonly at: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  /** Validates the timing; starts nothing. Throws LeaderError `LeaseTimingInvalid`. */
  constructor(private readonly options: LeaderOptions) {
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    if (!(this.leaseDurationMs > this.renewDeadlineMs && this.renewDeadlineMs > this.retryPeriodMs)) {
      throw new LeaderError('LeaseTimingInvalid', 'need leaseDurationMs > renewDeadlineMs > retryPeriodMs');
    }
    if (!(this.retryPeriodMs > 0)) throw new LeaderError('LeaseTimingInvalid', 'retryPeriodMs must be > 0');
    this.now = options.clock ?? (() => performance.now());
  }

  /** Starts campaigning in the background; idempotent, and a no-op after stop(). */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.schedule(0);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * True only if we lead and the lease we last renewed still has more than
   * `marginMs` to run by our clock. Writers call this before each label
   * write or eviction: leading is not enough, the lease must outlast the write.
   */
  holdsLeaseFor(marginMs: number): boolean {
    return this.leading && this.now() < this.renewedAt + this.leaseDurationMs - marginMs;
  }

  /**
   * Asks the API server whether the lease still names us, on top of
   * holdsLeaseFor: the check before an eviction, which cannot be undone
   * (design §6). False on any doubt — a failed read, another holder.
   */
  async confirm(marginMs: number): Promise<boolean> {
    if (!this.holdsLeaseFor(marginMs)) return false;
    try {
      const lease = await this.read(AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(5_000)]));
      return lease?.spec.holderIdentity === this.options.identity && this.holdsLeaseFor(marginMs);
    } catch {
      return false;
    }
  }

  /**
   * Stops campaigning, aborts the request in flight and, if the lease names
   * us, releases it so a successor takes over at once. Calls
   * onStoppedLeading if we were leading. Never rejects; idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown(true);
    return this.stopping;
  }

  /** Test seam: vanish as a killed process would, without releasing the lease or calling back. */
  abandon(): void {
    this.stopping ??= this.shutdown(false);
  }

  private async shutdown(release: boolean): Promise<void> {
    const wasStarted = this.state === 'running';
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.lifetime.abort(new DOMException('Leader election stopped', 'AbortError'));
    await this.attempt;
    if (!release || !wasStarted) return;
    try {
      await this.release();
    } catch (error: unknown) {
      this.options.logger.warn('Failed to release Lease', { ...this.describe(), ...failure(error) });
    }
    this.setLeading(false);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.attempt = this.tick()
        // Only a throwing logger can get here; it must not become an unhandled rejection.
        .catch(() => undefined)
        .finally(() => {
          this.attempt = undefined;
        });
    }, delayMs);
    this.timer.unref();
  }

  /** One acquire-or-renew round, then the next one is scheduled whatever happened. */
  private async tick(): Promise<void> {
    try {
      await this.round();
    } catch (error: unknown) {
      this.options.logger.error('Leader election round failed', { ...this.describe(), ...failure(error) });
    } finally {
      if (this.state === 'running') this.schedule(this.nextDelayMs());
    }
  }

  private async round(): Promise<void> {
    const startedAt = this.now();
    // A leader's requests must not outlive its renew deadline (client-go bounds its renew loop the same way).
    const budgetMs = Math.floor(
      this.leading ? this.renewedAt + this.renewDeadlineMs - startedAt : this.renewDeadlineMs,
    );
    let outcome: Outcome | 'failed' = 'failed';
    if (budgetMs > 0) {
      try {
        const signal = AbortSignal.any([this.lifetime.signal, AbortSignal.timeout(budgetMs)]);
        outcome = await this.tryAcquireOrRenew(signal);
      } catch (error: unknown) {
        if (this.state !== 'running') return;
        this.options.logger.warn('Failed to acquire or renew Lease', {
          ...this.describe(),
          ...failure(error),
        });
      }
    }
    if (this.state === 'running') this.settle(outcome, startedAt);
  }

  private settle(outcome: Outcome | 'failed', startedAt: number): void {
    switch (outcome) {
      case 'held':
        this.renewedAt = startedAt;
        this.setLeading(true);
        return;
      case 'heldByOther':
        // Seen, not guessed: the lease is someone else's, so stop now rather than at the deadline.
        if (this.leading) this.options.logger.warn('Lost Lease to another holder', this.describe());
        this.setLeading(false);
        return;
      case 'conflict':
      case 'failed':
        if (this.leading && this.now() - this.renewedAt >= this.renewDeadlineMs) {
          this.options.logger.warn('Stopped leading: Lease not renewed within the renew deadline', {
            ...this.describe(),
            renewDeadlineMs: this.renewDeadlineMs,
          });
          this.setLeading(false);
        }
        return;
    }
  }

  private nextDelayMs(): number {
    if (!this.leading) return this.retryPeriodMs * (1 + followerJitter * Math.random());
    // Wake at the renew deadline at the latest, so a stuck leader steps down on time.
    const untilDeadline = this.renewedAt + this.renewDeadlineMs - this.now();
    return Math.max(0, Math.min(this.retryPeriodMs, untilDeadline));
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<Outcome> {
    const { namespace, name, identity } = this.options;
    const current = await this.read(signal);
    const seenAt = this.now();
    const wall = microTime(Date.now());
    const leaseDurationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    if (current === undefined) {
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds,
          acquireTime: wall,
          renewTime: wall,
          leaseTransitions: 0,
        },
      };
      return this.write('POST', leasesPath(namespace), body, signal);
    }
    const spec = current.spec;
    const holder = spec.holderIdentity ?? '';
    const ours = holder === identity;
    if (!ours && holder !== '' && !this.expired(spec, seenAt)) return 'heldByOther';
    const transitions = spec.leaseTransitions ?? 0;
    const next = withSpec(current, {
      holderIdentity: identity,
      leaseDurationSeconds,
      // Re-serialised: what we read may lack the six digits the API server requires.
      acquireTime: ours ? (toMicroTime(spec.acquireTime) ?? wall) : wall,
      renewTime: wall,
      leaseTransitions: ours ? transitions : transitions + 1,
    });
    const outcome = await this.write('PUT', leasePath(namespace, name), next, signal);
    if (outcome === 'held' && !ours)
      this.options.logger.info('Acquired Lease', { ...this.describe(), previousHolder: holder });
    return outcome;
  }

  /** Runs a create or replace; 409 (someone else wrote first, or created it first) is an outcome, not an error. */
  private async write(
    method: 'POST' | 'PUT',
    path: string,
    body: Lease,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const res = await this.options.kube.send({ method, path, body, signal });
    if (res.status === 409) {
      this.options.logger.info('Lost a race to write the Lease', { ...this.describe(), status: 409 });
      return 'conflict';
    }
    if (res.status < 200 || res.status > 299)
      throw new KubeError(
        'KubeRequestFailed',
        `${method} Lease: ${String(res.status)} ${statusMessage(res.body)}`,
        res.status,
      );
    return 'held';
  }

  /** The lease, or undefined when it does not exist (404). */
  private async read(signal: AbortSignal): Promise<Lease | undefined> {
    const { namespace, name } = this.options;
    const body = await this.options.kube.getOptional(leasePath(namespace, name), undefined, signal);
    return body === undefined ? undefined : leaseOf(body);
  }

  /** True when the current record has not changed for its lease duration, by our clock. */
  private expired(spec: LeaseSpec, seenAt: number): boolean {
    const record = JSON.stringify([
      spec.holderIdentity,
      toMillis(spec.renewTime),
      spec.leaseDurationSeconds,
      spec.leaseTransitions,
    ]);
    if (this.observed?.record !== record) this.observed = { record, at: seenAt };
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.leaseDurationMs / 1000)) * 1000;
    return seenAt - this.observed.at >= durationMs;
  }

  /** Hands the lease back if it still names us (re-read: an aborted renewal may have landed). */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    const current = await this.read(signal);
    if (current?.spec.holderIdentity !== identity) return;
    const wall = microTime(Date.now());
    // As client-go's ReleaseOnCancel: no holder, and a 1 s duration for candidates that still wait it out.
    const released = withSpec(current, {
      holderIdentity: '',
      leaseDurationSeconds: 1,
      acquireTime: wall,
      renewTime: wall,
      leaseTransitions: current.spec.leaseTransitions ?? 0,
    });
    const outcome = await this.write('PUT', leasePath(namespace, name), released, signal);
    if (outcome === 'held') this.options.logger.info('Released Lease', this.describe());
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    try {
      if (leading) this.options.onStartedLeading();
      else this.options.onStoppedLeading();
    } catch (error: unknown) {
      this.options.logger.error('Leader election callback failed', { ...this.describe(), ...failure(error) });
    }
  }

  private describe(): { lease: string; identity: string } {
    return { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity };
  }
}

/** Log fields for a failure: the HTTP status of an API error, else the cause chain. */
function failure(error: unknown): { status?: number; error: string } {
  if (error instanceof KubeError && error.code === 'KubeTimeout') return { error: 'timed out' };
  if (error instanceof KubeError && error.status !== 0) return { status: error.status, error: error.message };
  return { error: describeError(error) };
}

/** The `message` of a metav1.Status body, bounded: it ends up in logs. */
function statusMessage(body: unknown): string {
  const message = isJsonObject(body) ? body['message'] : typeof body === 'string' ? body : undefined;
  return typeof message === 'string' ? message.slice(0, 200) : 'Kubernetes API error';
}
