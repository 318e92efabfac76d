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
