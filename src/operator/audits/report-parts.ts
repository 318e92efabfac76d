/**
 * An ImageAudit run's report as `ImageAuditReport` objects (the shape is
 * documented in audit-schemas.ts): bounded once (`boundReport`), then cut
 * into parts of at most `partBytes` serialized bytes each. Pure; the API
 * calls are in audit-reports.ts, reading back in audit-report-join.ts.
 *
 * How a report is cut: entries in report order, then the unmatched pods,
 * greedily into the current part. An entry that does not fit in what is
 * left of a part starts the next one; only an entry larger than a whole
 * part (one image run by tens of thousands of pods, or with very many tags)
 * is split, into pieces that repeat its image, verdict and signature and are
 * marked `continued: true` after the first. A reader appends a continued
 * piece's lists to the entry before it, so the report reads back whole.
 */
import { createHash } from 'node:crypto';
import type { AuditReport, ReportEntry, SignatureStanding } from '../../audit/report.js';
import { SigwatchError } from '../../base/errors.js';
import type { Reason } from '../../base/reasons.js';
import type { Verdict } from '../../policy/verdict.js';

/** The bounds of stored reports and of ImageAudit.status; the CRD schemas take them from here. */
export const auditLimits = {
  /**
   * Serialized JSON of one part, metadata included. The API server refuses
   * requests over 3 MiB and etcd values over 1.5 MiB; 900 KiB leaves room for
   * what the server adds (managedFields, resourceVersion, timestamps).
   */
  partBytes: 900 * 1024,
  /** 100 × 900 KiB: far more than 150,000 pods (Kubernetes' tested maximum) need. */
  maxParts: 100,
  entriesPerPart: 10_000,
  /** Each of `references`, `policies`, `pods` in one stored entry (piece). */
  itemsPerEntry: 10_000,
  unmatchedPodsPerPart: 20_000,
  /** `registry/repository@digest` and pod-spec references: registries and repositories are 255 at most. */
  imageLength: 1024,
  /** `namespace/name`: 63 + 1 + 253. */
  podLength: 317,
  nameLength: 253,
  /** Images listed in `status.lastResult.nonCompliantImages` and `.unsigned`. */
  listed: 20,
  podsPerListed: 5,
  /** `status.lastRunNow`; a longer annotation value is stored as its SHA-256. */
  runNowLength: 256,
  /** `historyLimit`'s maximum, and so the length of `status.history`. */
  history: 100,
  summaryLength: 1024,
} as const;

export type AuditLimits = { readonly [K in keyof typeof auditLimits]: number };

export type AuditReportErrorCode =
  | 'ReportTooLarge' // more parts than maxParts would hold
  | 'ReportMalformed' // a stored part is not what the schema describes
  | 'ReportPartMissing'; // part 0 names more parts than exist

export class AuditReportError extends SigwatchError<AuditReportErrorCode> {}

export const group = 'sigwatch.dev';
export const apiVersion = `${group}/v1alpha1`;
export const auditLabel = 'sigwatch.dev/audit';
export const reportLabel = 'sigwatch.dev/report';
export const partLabel = 'sigwatch.dev/part';

/** `summary.result`: what the run found at worst, as `sigwatch audit`'s exit code does. */
export type ReportResult = 'Compliant' | 'NonCompliant' | 'Unknown';
export const reportResults: readonly ReportResult[] = ['Compliant', 'NonCompliant', 'Unknown'];

/** The report's counts, and its result for the printer column. */
export type ReportSummary = Omit<AuditReport, 'audit' | 'time' | 'entries' | 'unmatchedPods'> & {
  readonly result: ReportResult;
};

/** One entry as stored; absent lists are empty. */
export interface StoredEntry {
  image: string;
  continued?: true;
  verdict: Verdict;
  reasons?: Reason[];
  signature: SignatureStanding;
  signedSbom: boolean;
  policies?: string[];
  references?: string[];
  pods?: string[];
}

export interface ImageAuditReportObject {
  apiVersion: string;
  kind: 'ImageAuditReport';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    ownerReferences: {
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller: boolean;
    }[];
  };
  audit: string;
  time: string;
  part: number;
  parts?: number;
  summary?: ReportSummary;
  entries?: StoredEntry[];
  unmatchedPods?: string[];
}

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

/** `<audit>-<yyyymmdd>-<hhmmss>` of the run's start (UTC): sortable, unique per run, room for `-<part>`. */
export function reportName(audit: string, started: Date): string {
  const stamp = started.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15).toLowerCase();
  return `${audit.slice(0, 253 - stamp.length - 1 - 4)}-${stamp}`;
}

/** Part 0 is named like the report; part n is `<report>-<n>`. */
export function partName(report: string, part: number): string {
  return part === 0 ? report : `${report}-${String(part)}`;
}

/** `s` in at most `max` code points (the unit of OpenAPI's maxLength), cut with `…`, well-formed UTF-16. */
export function cut(s: string, max: number): string {
  const w = s.toWellFormed(); // a lone surrogate would come back from the API server as U+FFFD
  if (w.length <= max) return w;
  const points = Array.from(w);
  return points.length <= max ? w : `${points.slice(0, max - 1).join('')}…`;
}

/**
 * The report with every string within the schema's bounds. Image names and
 * references come from pod specs and kubelet-written status, so a tenant
 * can make them arbitrarily long; one such value must not make the whole
 * report (or the audit's status) unwritable. Idempotent.
 */
export function boundReport(r: AuditReport, limits: AuditLimits = auditLimits): AuditReport {
  const image = (s: string): string => cut(s, limits.imageLength);
  const pod = (s: string): string => cut(s, limits.podLength);
  const name = (s: string): string => cut(s, limits.nameLength);
  return {
    ...r,
    audit: { namespace: r.audit.namespace, name: name(r.audit.name) },
    entries: r.entries.map((e) => ({
      ...e,
      image: image(e.image),
      references: e.references.map(image),
      pods: e.pods.map(pod),
      policies: e.policies.map(name),
    })),
    unmatchedPods: r.unmatchedPods.map(pod),
  };
}

export function reportResult(r: Pick<AuditReport, 'nonCompliant' | 'unknown'>): ReportResult {
  if (r.nonCompliant > 0) return 'NonCompliant';
  return r.unknown > 0 ? 'Unknown' : 'Compliant';
}

function summaryOf(r: AuditReport): ReportSummary {
  return {
    images: r.images,
    signed: r.signed,
    signedUntrusted: r.signedUntrusted,
    withSbom: r.withSbom,
    compliant: r.compliant,
    nonCompliant: r.nonCompliant,
    unknown: r.unknown,
    exempt: r.exempt,
    compliancePercent: r.compliancePercent,
    result: reportResult(r),
  };
}

const sizeOf = (v: unknown): number => Buffer.byteLength(JSON.stringify(v));
const lists = ['references', 'policies', 'pods'] as const;

function piece(e: ReportEntry, continued: boolean): StoredEntry {
  return {
    image: e.image,
    ...(continued ? { continued: true } : {}),
    verdict: e.verdict,
    reasons: [...e.reasons],
    signature: e.signature,
    signedSbom: e.signedSbom,
    policies: [],
    references: [],
    pods: [],
  };
}

/** Drops empty lists: `kubectl get -o yaml` reads better without `pods: []` on every piece. */
function compact(e: StoredEntry): StoredEntry {
  const { reasons, policies, references, pods, ...rest } = e;
  const some = (l: string[] | undefined): l is string[] => l !== undefined && l.length > 0;
  return {
    ...rest,
    ...(some(reasons) ? { reasons } : {}),
    ...(some(policies) ? { policies } : {}),
    ...(some(references) ? { references } : {}),
    ...(some(pods) ? { pods } : {}),
  };
}

/**
 * The ImageAuditReport objects holding `report` (bounded first), part 0
 * first; owned by the audit, so they go when it goes.
 * @throws AuditReportError `ReportTooLarge` beyond `maxParts` parts
 */
export function reportParts(
  owner: AuditOwner,
  name: string,
  report: AuditReport,
  limits: AuditLimits = auditLimits,
): ImageAuditReportObject[] {
  const r = boundReport(report, limits);
  const skeleton = (part: number, parts?: number): ImageAuditReportObject => ({
    apiVersion,
    kind: 'ImageAuditReport',
    metadata: {
      name: partName(name, part),
      namespace: owner.namespace,
      labels: {
        [auditLabel]: labelValue(owner.name),
        [reportLabel]: labelValue(name),
        [partLabel]: String(part),
        'app.kubernetes.io/managed-by': 'sigwatch',
      },
      ownerReferences: [
        {
          apiVersion,
          kind: 'ImageAudit',
          name: owner.name,
          uid: owner.uid,
          // No blockOwnerDeletion: setting it needs `update` on imageaudits/finalizers
          // (OwnerReferencesPermissionEnforcement), and an audit's deletion need not wait for its reports.
          controller: true,
        },
      ],
    },
    audit: r.audit.name,
    time: r.time,
    part,
    ...(parts === undefined ? {} : { parts, summary: summaryOf(r) }),
    entries: [],
    unmatchedPods: [],
  });
  // Every part is measured with the largest part number and a summary: an upper bound for each.
  const base = sizeOf(skeleton(limits.maxParts - 1, limits.maxParts));
  const parts: { entries: StoredEntry[]; unmatched: string[] }[] = [];
  let current = { entries: [] as StoredEntry[], unmatched: [] as string[] };
  let used = base;
  const next = (): void => {
    parts.push(current);
    if (parts.length >= limits.maxParts)
      throw new AuditReportError(
        'ReportTooLarge',
        `report ${name} needs more than ${String(limits.maxParts)} parts of ${String(limits.partBytes)} bytes`,
      );
    current = { entries: [], unmatched: [] };
    used = base;
  };
  const room = (n: number): boolean => used + n <= limits.partBytes;
  const open = (e: ReportEntry, continued: boolean, firstItem: number): StoredEntry => {
    const p = piece(e, continued);
    const n = sizeOf(p) + 1;
    if (!room(n + firstItem) || current.entries.length >= limits.entriesPerPart) next();
    current.entries.push(p);
    used += n;
    return p;
  };
  for (const e of r.entries) {
    // A whole entry that fits in a fresh part is not split across two.
    if (!room(sizeOf(e) + 1) && base + sizeOf(e) + 1 <= limits.partBytes) next();
    const first = lists.map((k) => e[k][0]).find((v) => v !== undefined);
    let p = open(e, false, first === undefined ? 0 : sizeOf(first) + 1);
    for (const k of lists) {
      for (const item of e[k]) {
        const n = sizeOf(item) + 1;
        if ((p[k]?.length ?? 0) >= limits.itemsPerEntry || !room(n)) p = open(e, true, n);
        p[k]?.push(item);
        used += n;
      }
    }
  }
  for (const pod of r.unmatchedPods) {
    const n = sizeOf(pod) + 1;
    if (!room(n) || current.unmatched.length >= limits.unmatchedPodsPerPart) next();
    current.unmatched.push(pod);
    used += n;
  }
  parts.push(current);
  return parts.map((p, i) => {
    const o = skeleton(i, i === 0 ? parts.length : undefined);
    if (p.entries.length > 0) o.entries = p.entries.map(compact);
    else delete o.entries;
    if (p.unmatched.length > 0) o.unmatchedPods = p.unmatched;
    else delete o.unmatchedPods;
    return o;
  });
}
