/**
 * The public-good trusted root, kept fresh over TUF (design §3): refreshed
 * every 24 h from the Sigstore TUF repository with @sigstore/tuf (signed
 * metadata, so a mirror cannot forge it); the copy embedded in @sigstore/tuf
 * is used until the first refresh succeeds, and whenever refreshing fails.
 *
 * After `staleAfter` (7 days) without a successful refresh the root is
 * *stale*: chains and logs it does not know become TrustMaterialStale
 * (Unknown), never a definite failure, so pods signed through new Sigstore
 * infrastructure are not evicted by an operator that cannot see it. The
 * clock starts at the last success, or at start-up when there was none.
 * `--trust-refresh=off` (air-gapped clusters) keeps the embedded root and
 * never goes stale: the admin then owns trust material (trustedRootRef).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MIRROR_URL, initTUF } from '@sigstore/tuf';
import type { TrustMaterial } from '../../policy/trust-material.js';
import { publicGoodTrustedRoot } from '../../verify/public-good.js';
import { loadTrustedRoot } from '../../verify/trust.js';
import type { Logger } from '../kube/logger.js';

export interface TrustRefreshOptions {
  readonly enabled: boolean;
  readonly mirrorURL?: string;
  readonly intervalMs?: number;
  /** First retry after a failure, doubling up to the interval (default 10 min). */
  readonly retryMs?: number;
  readonly staleAfterMs?: number;
  readonly logger: Logger;
  /** The root or its staleness changed. */
  readonly onChange: () => void;
  readonly now?: () => number;
}

export class PublicGoodRoot {
  private root = publicGoodTrustedRoot();
  private lastSuccess: number;
  private stale = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private staleTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: TrustRefreshOptions) {
    this.lastSuccess = this.now();
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  current(): TrustMaterial['publicGood'] {
    return { root: this.root, stale: this.stale };
  }

  /** Seconds since the last successful refresh (or start-up), for `sigwatch_trust_root_age_seconds`. */
  ageSeconds(): number {
    return (this.now() - this.lastSuccess) / 1000;
  }

  start(): void {
    if (!this.options.enabled) return;
    this.armStaleTimer();
    void this.refresh();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.staleTimer);
  }

  private armStaleTimer(): void {
    clearTimeout(this.staleTimer);
    const due = this.lastSuccess + (this.options.staleAfterMs ?? 7 * 24 * 3600_000) - this.now();
    this.staleTimer = setTimeout(
      () => {
        if (this.stale || this.stopped) return;
        this.stale = true;
        this.options.logger.warn('public-good trusted root is stale: refreshing has failed for too long', {
          lastSuccess: new Date(this.lastSuccess).toISOString(),
        });
        this.options.onChange();
      },
      Math.min(Math.max(0, due), 2 ** 31 - 1),
    );
    this.staleTimer.unref();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh();
    }, ms);
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const interval = this.options.intervalMs ?? 24 * 3600_000;
    try {
      const tuf = await initTUF({
        mirrorURL: this.options.mirrorURL ?? DEFAULT_MIRROR_URL,
        cachePath: await mkdtemp(join(tmpdir(), 'sigwatch-tuf-')),
        forceCache: false,
        timeout: 30_000,
        retry: false,
      });
      this.root = loadTrustedRoot(JSON.parse(await tuf.getTarget('trusted_root.json')));
      this.lastSuccess = this.now();
      this.failures = 0;
      this.stale = false;
      this.armStaleTimer();
      this.options.logger.info('public-good trusted root refreshed over TUF');
      this.options.onChange();
      this.schedule(interval);
    } catch (error: unknown) {
      this.failures++;
      const retry = Math.min(
        interval,
        (this.options.retryMs ?? 600_000) * 2 ** Math.min(this.failures - 1, 10),
      );
      this.options.logger.warn('public-good trusted root refresh failed; keeping the current root', {
        error: error instanceof Error ? error.message : String(error),
        retryInSeconds: Math.round(retry / 1000),
      });
      this.schedule(retry);
    }
  }
}
