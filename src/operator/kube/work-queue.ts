/**
 * A coalescing work queue, as client-go's workqueue: a key added many times
 * before it is processed is processed once, keys are processed one at a
 * time, and after each pass over what was queued a hook runs (the
 * controller settles evictions there, when every transition of the pass
 * has been seen). A key may also be woken at a time (a verdict's expiry).
 */
export interface WorkQueueOptions {
  readonly process: (key: string) => Promise<void>;
  /** After each pass over the queue, before the next. */
  readonly afterPass: () => Promise<void>;
  /** A `process` or `afterPass` that threw; the queue carries on. */
  readonly onError: (key: string | undefined, error: unknown) => void;
}

/** Longest a timer is set for; Node's setTimeout overflows beyond 2^31-1 ms. */
const maxTimerMs = 2 ** 31 - 1;

export class WorkQueue {
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string): void {
    if (this.stopped) return;
    this.dirty.add(key);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  /** Adds `key` at `at` (just after, so that what expires then has expired); replaces an earlier wake-up. */
  wakeAt(key: string, at: Date, now: Date): void {
    this.cancelWake(key);
    const delay = Math.min(maxTimerMs, Math.max(0, at.getTime() - now.getTime()) + 5);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delay);
    timer.unref();
    this.timers.set(key, timer);
  }

  cancelWake(key: string): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  /** Resolves once nothing is queued or being processed (tests, readiness). */
  async idle(): Promise<void> {
    while (this.draining !== undefined) await this.draining;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async drain(): Promise<void> {
    // Let a burst of watch events coalesce before processing.
    await new Promise((r) => setImmediate(r));
    for (;;) {
      while (this.dirty.size > 0 && !this.stopped) {
        const keys = [...this.dirty];
        this.dirty.clear();
        for (const key of keys) {
          try {
            await this.options.process(key);
          } catch (error: unknown) {
            this.options.onError(key, error);
          }
        }
      }
      try {
        await this.options.afterPass();
      } catch (error: unknown) {
        this.options.onError(undefined, error);
      }
      if (this.dirty.size === 0 || this.stopped) return;
    }
  }
}
