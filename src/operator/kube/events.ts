/**
 * The core/v1 Event Sigwatch writes, whoever writes it: the verdict Events on
 * pods (verdicts/pod-events.ts) and admission refusals on workloads.
 *
 * An Event that must not be repeated carries its de-duplication key in the
 * annotation `sigwatch.dev/event-key`, so a restarted operator or a new
 * leader reads back what was already said (`listEventKeys`) instead of
 * trusting a memory that died with the old process. The API server keeps
 * an Event for its `--event-ttl` (1 h by default): that is how far back the
 * read-back reaches.
 */
import { createHash } from 'node:crypto';
import { asArray, asObject, asString } from '../../base/json.js';
import { KubeError, type KubeHttp } from './client.js';

export const eventKeyAnnotation = 'sigwatch.dev/event-key';
/** `source.component` of every Sigwatch Event (a field selector the API server indexes for Events). */
export const eventSource = 'sigwatch';
const maxKeyLength = 1024;

/**
 * The de-duplication key as stored in an Event (and remembered): a key
 * longer than an annotation should hold keeps its first 900 characters and
 * gains a hash of the whole, so two long keys never collide and the one read
 * back after a restart is the one remembered before it.
 */
export function eventKey(raw: string): string {
  if (raw.length <= maxKeyLength) return raw;
  return `${raw.slice(0, 900)}#sha256:${createHash('sha256').update(raw).digest('hex')}`;
}

/** A core/v1 Event about `involved`, as Sigwatch reports it (message cut to 1 KiB); `key`: see the module comment. */
export function eventBody(
  involved: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string },
  generateName: string,
  e: { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string },
  now: number,
  key?: string,
): object {
  const time = new Date(now).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      generateName,
      namespace: involved.namespace,
      ...(key === undefined ? {} : { annotations: { [eventKeyAnnotation]: key.slice(0, maxKeyLength) } }),
    },
    involvedObject: involved,
    type: e.type,
    reason: e.reason,
    message: e.message.slice(0, 1024),
    source: { component: eventSource },
    reportingComponent: 'sigwatch.dev/operator',
    reportingInstance: 'sigwatch',
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}

/**
 * An Event's de-duplication key and when it was last emitted (ms), or
 * undefined for an Event without both. The time is the latest the Event
 * names (an aggregated Event's `lastTimestamp`, else its first, else its
 * creation).
 */
export function keyedEventTime(item: unknown): { readonly key: string; readonly atMs: number } | undefined {
  const o = asObject(item);
  const key = asString(asObject(asObject(o?.['metadata'])?.['annotations'])?.[eventKeyAnnotation]);
  if (key === undefined || key.length > maxKeyLength) return undefined;
  const times = [
    asString(o?.['lastTimestamp']),
    asString(o?.['firstTimestamp']),
    asString(asObject(o?.['metadata'])?.['creationTimestamp']),
  ]
    .map((t) => (t === undefined ? Number.NaN : Date.parse(t)))
    .filter(Number.isFinite);
  return times.length === 0 ? undefined : { key, atMs: Math.max(...times) };
}

export interface ListEventKeysOptions {
  /** Events per page (`limit`). */
  readonly pageSize: number;
  /** Pages read at most; beyond them the oldest keys are not known (the cost of a repeated Event). */
  readonly maxPages: number;
  readonly timeoutMs: number;
}

/**
 * The keys of the Sigwatch Events about pods in `namespace` that the API
 * server still holds, each with its latest time (ms): one paged list
 * (`source=sigwatch`, `involvedObject.kind=Pod`). Needs `list` on Events.
 * Throws KubeError (`KubeTimeout`, `KubeRequestFailed`, with the HTTP status
 * of a refused page).
 */
export async function listEventKeys(
  kube: KubeHttp,
  namespace: string,
  options: ListEventKeysOptions,
): Promise<{ readonly keys: Map<string, number>; readonly complete: boolean }> {
  const keys = new Map<string, number>();
  const fields = encodeURIComponent(`source=${eventSource},involvedObject.kind=Pod`);
  let next: string | undefined;
  for (let page = 0; page < options.maxPages; page++) {
    const res = await kube.send({
      method: 'GET',
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/events?fieldSelector=${fields}&limit=${String(options.pageSize)}${next === undefined ? '' : `&continue=${encodeURIComponent(next)}`}`,
      timeoutMs: options.timeoutMs,
    });
    if (res.status !== 200)
      throw new KubeError(
        'KubeRequestFailed',
        `listing Events in ${namespace} refused: HTTP ${String(res.status)}`,
        res.status,
      );
    const body = asObject(res.body);
    for (const item of asArray(body?.['items'])) {
      const found = keyedEventTime(item);
      if (found !== undefined && found.atMs > (keys.get(found.key) ?? -Infinity))
        keys.set(found.key, found.atMs);
    }
    next = asString(asObject(body?.['metadata'])?.['continue']);
    if (next === undefined) return { keys, complete: true };
  }
  return { keys, complete: false };
}
