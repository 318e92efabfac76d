/**
 * Where an ImageAudit run's report lives (design §2): ConfigMaps in the
 * audit's namespace, owned by the ImageAudit (deleted with it), holding the
 * full report as gzipped JSON in `binaryData` — split into `<name>-<n>`
 * parts when it exceeds 900 KiB, far below the 1 MiB object limit — and the
 * human-readable table. Old reports beyond `historyLimit` are deleted.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { AuditReport } from '../audit/report.js';
import type { KubeHttp } from './kube-http.js';

export const partBytes = 900 * 1024;
/** The table goes into the first ConfigMap; a table longer than this is cut (the JSON has everything). */
const maxTableBytes = 64 * 1024;
export const auditLabel = 'sigwatch.dev/audit';
export const reportLabel = 'sigwatch.dev/report';
const partsAnnotation = 'sigwatch.dev/report-parts';

export interface AuditOwner {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** A label value (at most 63 characters): long names are cut and made unique by a hash. */
export function labelValue(name: string): string {
  if (name.length <= 63) return name;
  return `${name.slice(0, 50)}-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

/** `<audit>-<yyyymmdd>-<hhmmss>` of the run's start (UTC): sortable, unique per run. */
export function reportName(audit: string, started: Date): string {
  const stamp = started.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${audit.slice(0, 253 - stamp.length - 1 - 4)}-${stamp}`;
}

/** The ConfigMaps holding `report` (the first named `name`, further parts `name-1`, `name-2`, …). */
export function reportConfigMaps(
  owner: AuditOwner,
  name: string,
  report: AuditReport,
  table: string,
): object[] {
  const gz = gzipSync(JSON.stringify(report));
  const parts: Buffer[] = [];
  for (let at = 0; at < gz.length || parts.length === 0; at += partBytes)
    parts.push(gz.subarray(at, at + partBytes));
  const cutTable =
    Buffer.byteLength(table) <= maxTableBytes
      ? table
      : `${Buffer.from(table).subarray(0, maxTableBytes).toString('utf8')}\n… (cut; the full report is in report.json.gz)\n`;
  return parts.map((chunk, i) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: i === 0 ? name : `${name}-${String(i)}`,
      namespace: owner.namespace,
      labels: {
        [auditLabel]: labelValue(owner.name),
        [reportLabel]: labelValue(name),
        'app.kubernetes.io/managed-by': 'sigwatch',
      },
      annotations: { [partsAnnotation]: String(parts.length) },
      ownerReferences: [
        {
          apiVersion: 'sigwatch.dev/v1alpha1',
          kind: 'ImageAudit',
          name: owner.name,
          uid: owner.uid,
          controller: true,
        },
      ],
    },
    ...(i === 0 ? { data: { 'report.txt': cutTable } } : {}),
    binaryData: { 'report.json.gz': chunk.toString('base64') },
  }));
}

/** @throws KubeError, or Error with the API server's answer */
export async function writeReport(kube: KubeHttp, configMaps: readonly object[]): Promise<void> {
  for (const cm of configMaps) {
    const { namespace, name } = (cm as { metadata: { namespace: string; name: string } }).metadata;
    const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`;
    let res = await kube.send({ method: 'POST', path: collection, body: cm, timeoutMs: 60_000 });
    // A retried run of the same second: replace what the failed attempt left.
    if (res.status === 409)
      res = await kube.send({
        method: 'PUT',
        path: `${collection}/${encodeURIComponent(name)}`,
        body: cm,
        timeoutMs: 60_000,
      });
    if (res.status < 200 || res.status > 299)
      throw new Error(
        `writing ConfigMap ${namespace}/${name}: ${String(res.status)} ${JSON.stringify(res.body).slice(0, 500)}`,
      );
  }
}

/** Reads a stored report back (all its parts, in order). */
export async function readReport(kube: KubeHttp, namespace: string, name: string): Promise<AuditReport> {
  const path = (n: string): string =>
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(n)}`;
  const first = (await kube.call({ method: 'GET', path: path(name) })) as {
    metadata: { annotations?: Record<string, string> };
    binaryData?: Record<string, string>;
  };
  const count = Number(first.metadata.annotations?.[partsAnnotation] ?? '1');
  const chunks = [Buffer.from(first.binaryData?.['report.json.gz'] ?? '', 'base64')];
  for (let i = 1; i < count; i++) {
    const part = (await kube.call({ method: 'GET', path: path(`${name}-${String(i)}`) })) as {
      binaryData?: Record<string, string>;
    };
    chunks.push(Buffer.from(part.binaryData?.['report.json.gz'] ?? '', 'base64'));
  }
  return JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as AuditReport;
}

/** Deletes the audit's reports beyond the newest `keep`. */
export async function pruneReports(kube: KubeHttp, owner: AuditOwner, keep: number): Promise<void> {
  const collection = `/api/v1/namespaces/${encodeURIComponent(owner.namespace)}/configmaps`;
  const selector = encodeURIComponent(`${auditLabel}=${labelValue(owner.name)}`);
  const list = (await kube.call({ method: 'GET', path: `${collection}?labelSelector=${selector}` })) as {
    items: { metadata: { name: string; labels?: Record<string, string> } }[];
  };
  // Grouped by report; ordered by the report's own name (`<audit>-<start>`; a long one's label is hashed).
  const reportOf = (i: { metadata: { name: string; labels?: Record<string, string> } }): string =>
    i.metadata.labels?.[reportLabel] ?? i.metadata.name;
  const firstName = new Map<string, string>();
  for (const i of list.items) {
    const r = reportOf(i);
    const known = firstName.get(r);
    if (known === undefined || i.metadata.name.length < known.length) firstName.set(r, i.metadata.name);
  }
  const reports = [...firstName].sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([r]) => r);
  const old = new Set(reports.slice(0, Math.max(0, reports.length - keep)));
  for (const item of list.items) {
    if (!old.has(reportOf(item))) continue;
    await kube.send({ method: 'DELETE', path: `${collection}/${encodeURIComponent(item.metadata.name)}` });
  }
}
