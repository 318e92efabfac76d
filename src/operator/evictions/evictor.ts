/**
 * One eviction through the Eviction API (policy/v1), exactly as design §6
 * asks: the API server checks PodDisruptionBudgets, a refusal (429) is
 * reported for a later retry and never forced, and no `deleteOptions` are
 * sent — the pod's own grace period applies.
 */
import type { KubeHttp } from '../kube/client.js';

export type EvictionOutcome =
  | { readonly kind: 'evicted' }
  /** 429: a PodDisruptionBudget (or the API server) refuses for now; retry later. */
  | { readonly kind: 'refused'; readonly message: string }
  /** The pod is already gone. */
  | { readonly kind: 'gone' }
  | { readonly kind: 'failed'; readonly status: number; readonly message: string };

function messageOf(body: unknown): string {
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

/** @throws KubeError when no answer arrived (the caller retries; nothing was forced) */
export async function evictPod(
  kube: KubeHttp,
  pod: { readonly namespace: string; readonly name: string },
  signal?: AbortSignal,
): Promise<EvictionOutcome> {
  const ns = encodeURIComponent(pod.namespace);
  const res = await kube.send({
    method: 'POST',
    path: `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod.name)}/eviction`,
    body: {
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: pod.name, namespace: pod.namespace },
    },
    timeoutMs: 15_000,
    ...(signal === undefined ? {} : { signal }),
  });
  if (res.status === 200 || res.status === 201) return { kind: 'evicted' };
  if (res.status === 429) return { kind: 'refused', message: messageOf(res.body) };
  if (res.status === 404) return { kind: 'gone' };
  return { kind: 'failed', status: res.status, message: messageOf(res.body) };
}
