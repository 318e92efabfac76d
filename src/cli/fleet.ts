/**
 * Runs one task per item of a fleet (the images given to `sigwatch verify`)
 * concurrently under two bounds, and returns the results in the order of the
 * items, whatever order the tasks finish in: output stays stable and
 * diffable from run to run.
 *
 * - `total`: tasks running at once overall (memory: each image holds its evidence).
 * - `perKey`: tasks running at once for one key (a registry host), so one host
 *   that is slow or answers 429 with Retry-After holds at most `perKey` of
 *   the `total` slots while other hosts' images go on (when `total` is larger:
 *   verify's defaults are equal, 8 and 8). A task takes its key's
 *   slot before an overall one, so tasks queued behind a busy host hold none.
 *
 * A task turns its item's expected failures into a result itself, so one
 * item's failure never touches another's result; a rejection (a bug, or the
 * caller's cancellation) rejects the whole map.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export interface FleetBounds {
  readonly total: number;
  readonly perKey: number;
}

export async function mapBounded<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  bounds: FleetBounds,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const overall = pLimit(bounds.total);
  const perKey = new Map<string, LimitFunction>();
  return Promise.all(
    items.map((item) => {
      const key = keyOf(item);
      let limit = perKey.get(key);
      if (limit === undefined) {
        limit = pLimit(bounds.perKey);
        perKey.set(key, limit);
      }
      return limit(() => overall(() => task(item)));
    }),
  );
}
