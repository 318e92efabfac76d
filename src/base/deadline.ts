/**
 * Cancellation helpers. Every I/O function in Sigwatch takes a required
 * `signal`; deadlines compose with the caller's signal so that the shortest
 * one wins and `signal.reason` tells a timeout (`TimeoutError`) from a
 * cancellation (`AbortError`).
 */

/** A signal that aborts when `parent` does or after `timeoutMs`, whichever is first. */
export function withDeadline(parent: AbortSignal, timeoutMs: number): AbortSignal {
  return AbortSignal.any([parent, AbortSignal.timeout(timeoutMs)]);
}

/** True when the signal was aborted by a timeout rather than by a caller's cancellation. */
export function isTimeout(signal: AbortSignal): boolean {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof DOMException && reason.name === 'TimeoutError';
}

/** `promise`, or the signal's reason as soon as it aborts (the work itself goes on for others). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
