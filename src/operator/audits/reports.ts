/**
 * Where an ImageAudit run's report lives (design §2): `ImageAuditReport`
 * objects in the audit's namespace, owned by the ImageAudit (deleted with
 * it), readable with namespace RBAC (`kubectl get imageauditreports`). A
 * large report is stored in parts (audit-report-parts.ts); old reports
 * beyond `historyLimit` are deleted, every part of them.
 *
 * The operator needs get, list, create, update and delete on
 * `imageauditreports` and nothing on any built-in kind.
 */
import type { AuditReport } from '../../audit/report.js';
import { joinReport } from './report-join.js';
import {
  apiVersion,
  auditLimits,
  AuditReportError,
  auditLabel,
  labelValue,
  partLabel,
  partName,
  type AuditOwner,
  type ImageAuditReportObject,
} from './report-parts.js';
import { KubeError, type KubeHttp } from '../kube/client.js';

/** A 900 KiB part over a busy API server: more than the default 30 s. */
const writeTimeoutMs = 60_000;

const collection = (namespace: string): string =>
  `/apis/${apiVersion}/namespaces/${encodeURIComponent(namespace)}/imageauditreports`;

/**
 * Stores the parts (as `reportParts` made them). Part 0 is written last: a
 * reader who finds it finds every part it names, and a run that fails
 * half-way leaves no report that looks whole (its parts are pruned later).
 * @throws KubeError when the API server refuses or does not answer
 */
export async function writeReport(
  kube: KubeHttp,
  parts: readonly ImageAuditReportObject[],
  signal?: AbortSignal,
): Promise<void> {
  const io = { timeoutMs: writeTimeoutMs, ...(signal === undefined ? {} : { signal }) };
  for (const part of [...parts].reverse()) {
    const path = collection(part.metadata.namespace);
    try {
      await kube.call({ method: 'POST', path, body: part, ...io });
    } catch (error: unknown) {
      if (!(error instanceof KubeError && error.status === 409)) throw error;
      // A retried run in the same second: replace what the failed attempt left (custom resources
      // take no update without the resourceVersion).
      const one = `${path}/${encodeURIComponent(part.metadata.name)}`;
      const old = (await kube.call({ method: 'GET', path: one, ...io })) as {
        metadata: { resourceVersion: string };
      };
      const body = { ...part, metadata: { ...part.metadata, resourceVersion: old.metadata.resourceVersion } };
      await kube.call({ method: 'PUT', path: one, body, ...io });
    }
  }
}

/**
 * Reads a stored report back whole: part 0 (`name`), then the parts it names.
 * @throws KubeError (404 when part 0 does not exist), AuditReportError
 *   (`ReportPartMissing`, `ReportMalformed`)
 */
export async function readReport(
  kube: KubeHttp,
  namespace: string,
  name: string,
  signal?: AbortSignal,
): Promise<AuditReport> {
  const get = (n: string): Promise<unknown> =>
    kube.getOptional(`${collection(namespace)}/${encodeURIComponent(n)}`, undefined, signal);
  const first = await get(name);
  if (first === undefined)
    throw new KubeError('KubeRequestFailed', `ImageAuditReport ${namespace}/${name} not found`, 404);
  const count = (first as { parts?: unknown }).parts;
  const parts = [first];
  // Bounded by the schema's maximum; a malformed count is joinReport's to refuse.
  for (let i = 1; typeof count === 'number' && i < Math.min(count, auditLimits.maxParts); i++) {
    const part = await get(partName(name, i));
    if (part === undefined)
      throw new AuditReportError('ReportPartMissing', `part ${String(i)} of ${namespace}/${name} not found`);
    parts.push(part);
  }
  return joinReport(namespace, parts);
}

interface PartMeta {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    ownerReferences?: { uid?: string; controller?: boolean }[];
  };
}

/**
 * Deletes the audit's reports beyond the newest `keep`, every part of them.
 * Lists names and labels only (a PartialObjectMetadataList): a hundred
 * multi-part reports would otherwise be a response of tens of megabytes.
 * @throws KubeError when the list fails (a failed delete is left for the next run)
 */
export async function pruneReports(
  kube: KubeHttp,
  owner: AuditOwner,
  keep: number,
  signal?: AbortSignal,
): Promise<void> {
  const selector = encodeURIComponent(`${auditLabel}=${labelValue(owner.name)}`);
  const list = (await kube.call({
    method: 'GET',
    path: `${collection(owner.namespace)}?labelSelector=${selector}`,
    accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
    ...(signal === undefined ? {} : { signal }),
  })) as { items?: PartMeta[] };
  // This audit's own: a long audit name's label value is a hash, and an audit of the same name
  // deleted and created again is another owner (its old reports go with the old one).
  const ours = (list.items ?? []).filter((i) =>
    i.metadata.ownerReferences?.some((o) => o.controller === true && o.uid === owner.uid),
  );
  // A part's report is its name without `-<part>`: `<audit>-<yyyymmdd>-<hhmmss>`, which sorts by time.
  const reportOf = (i: PartMeta): string => {
    const part = i.metadata.labels?.[partLabel] ?? '0';
    const suffix = part === '0' ? '' : `-${part}`;
    return i.metadata.name.endsWith(suffix)
      ? i.metadata.name.slice(0, i.metadata.name.length - suffix.length)
      : i.metadata.name;
  };
  const reports = [...new Set(ours.map(reportOf))].sort();
  const old = new Set(reports.slice(0, Math.max(0, reports.length - keep)));
  for (const item of ours) {
    if (!old.has(reportOf(item))) continue;
    const path = `${collection(owner.namespace)}/${encodeURIComponent(item.metadata.name)}`;
    // Any answer will do: 404 is deleted meanwhile (the garbage collector), a refusal is retried next run.
    await kube.send({ method: 'DELETE', path, ...(signal === undefined ? {} : { signal }) });
  }
}
