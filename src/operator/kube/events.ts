/**
 * The core/v1 Event Sigwatch writes, whoever writes it: the verdict Events on
 * pods (verdicts/pod-events.ts) and admission refusals on workloads.
 */
/** A core/v1 Event about `involved`, as Sigwatch reports it (message cut to 1 KiB). */
export function eventBody(
  involved: { apiVersion: string; kind: string; namespace: string; name: string; uid?: string },
  generateName: string,
  e: { readonly type: 'Normal' | 'Warning'; readonly reason: string; readonly message: string },
  now: number,
): object {
  const time = new Date(now).toISOString();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName, namespace: involved.namespace },
    involvedObject: involved,
    type: e.type,
    reason: e.reason,
    message: e.message.slice(0, 1024),
    source: { component: 'sigwatch' },
    reportingComponent: 'sigwatch.dev/operator',
    reportingInstance: 'sigwatch',
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}
