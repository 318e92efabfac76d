/**
 * Writes a pod's verdict marks (label and annotations, pod-label.ts) and the
 * eviction clock's annotations in one merge patch, only when something
 * differs and only while this replica may write.
 */
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { TrimmedPod } from '../pod.js';
import { marksPatch, type PodMarks } from './pod-label.js';

export interface MarksWriterOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly mayWrite: () => boolean;
}

/** Patches `pod` with `marks` and `clock` (null removes an annotation); a vanished pod is no error. */
export async function writePodMarks(
  options: MarksWriterOptions,
  pod: TrimmedPod,
  marks: PodMarks,
  clock: Record<string, string | null> | undefined,
): Promise<void> {
  const labels = marksPatch(pod, marks);
  const patch =
    clock === undefined
      ? labels
      : { metadata: { ...labels?.metadata, annotations: { ...labels?.metadata.annotations, ...clock } } };
  if (patch === undefined || !options.mayWrite()) return;
  const key = `${pod.namespace}/${pod.name}`;
  const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}?fieldManager=sigwatch`;
  const res = await options.kube.send({ method: 'PATCH', path, body: patch });
  if (res.status === 404) return; // gone meanwhile
  if (res.status < 200 || res.status > 299) {
    options.logger.warn('pod label write refused', { pod: key, status: res.status });
    return;
  }
  options.logger.info('pod marks written', { pod: key, label: marks.label ?? null });
}
