/**
 * Sigwatch's verdicts as a `wgpolicyk8s.io/v1alpha2` PolicyReport (the
 * Kubernetes Policy WG's report API, read by Policy Reporter and others):
 * one report per namespace, named `sigwatch`, one result per judged
 * container and ImagePolicy. Pure: the writer (policy-report-writer.ts)
 * decides when to build one and what to do with it.
 *
 * The verdict → result mapping follows the enum's documented meanings
 * (kyverno's api/policyreport/v1alpha2 `PolicyResult`): Compliant → pass,
 * NonCompliant → fail, Unknown → `error` ("the policy could not be
 * evaluated"), never `fail` or `warn` (both mean "requirements not met"), so
 * an outage never looks like a violation here either; Exempt → skip, as
 * Kyverno reports a policy exception. A stale verdict (the last definite
 * one, kept while the current one is Unknown) keeps its result and says so.
 *
 * Reports stay far below the API server's object size limit (etcd's 1.5 MiB
 * request by default): results beyond `maxResults` or `maxBytes` are left
 * out, passes first, and the annotation `sigwatch.dev/results-omitted` says
 * how many; the summary still counts every result.
 */
import canonicalize from 'canonicalize';
import type { ContainerResult } from '../verdicts/policy-status.js';
import type { ContainerKind, TrimmedPod } from '../pod.js';
import { asObject as obj } from '../../base/json.js';

export const reportName = 'sigwatch';
export const managedByLabel = 'app.kubernetes.io/managed-by';
export const omittedAnnotation = 'sigwatch.dev/results-omitted';
/** Every result's `rule`: the policy's whole verdict on the running digest (signatures, attestations, SBOM rules). */
export const reportRule = 'image-verdict';

export type ReportResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface ReportResult {
  readonly source: 'sigwatch';
  readonly policy: string;
  readonly rule: string;
  readonly category: string;
  readonly result: ReportResultValue;
  readonly severity?: 'high';
  readonly scored: boolean;
  readonly message: string;
  /** When this container first had this outcome under this policy (whole seconds). */
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
  readonly resources: readonly {
    readonly apiVersion: 'v1';
    readonly kind: 'Pod';
    readonly namespace: string;
    readonly name: string;
    readonly uid?: string;
    /** The container, as Events name one: `spec.containers{app}`. */
    readonly fieldPath: string;
  }[];
  readonly properties: Readonly<Record<string, string>>;
}

export interface PolicyReport {
  readonly apiVersion: 'wgpolicyk8s.io/v1alpha2';
  readonly kind: 'PolicyReport';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly results: readonly ReportResult[];
  readonly summary: Readonly<Record<ReportResultValue, number>>;
}

/** A pod as the controller last judged it; `complete`: every matched digest had evidence. */
export interface ReportedPod {
  readonly pod: TrimmedPod;
  readonly results: readonly ContainerResult[];
  readonly complete: boolean;
}

export interface ReportLimits {
  /** Results kept in one report (default 1,000). */
  readonly maxResults: number;
  /** Bytes of serialized results kept in one report (default 512 KiB). */
  readonly maxBytes: number;
}

export const defaultReportLimits: ReportLimits = { maxResults: 1000, maxBytes: 512 << 10 };

/** When each result (by `resultId`) first had its outcome (`resultSignature`), in ms since the epoch. */
export type ResultTimes = ReadonlyMap<string, { readonly signature: string; readonly at: number }>;

const maxMessage = 1024;
/** Policy Reporter groups results by category; Kyverno's image-verification policies use this one. */
const category = 'Software Supply Chain Security';

const resultOf = {
  Compliant: 'pass',
  NonCompliant: 'fail',
  Unknown: 'error',
  Exempt: 'skip',
} as const satisfies Record<ContainerResult['verdict'], ReportResultValue>;

const fieldOf: Readonly<Record<ContainerKind, string>> = {
  container: 'containers',
  init: 'initContainers',
  sidecar: 'initContainers',
  ephemeral: 'ephemeralContainers',
};

/** Identifies one result within its namespace: pod, container, policy. */
export function resultId(pod: string, container: string, policy: string): string {
  return `${pod}\u0000${container}\u0000${policy}`;
}

/** What a result's timestamp follows: it moves only when one of these changes. */
export function resultSignature(r: {
  readonly result: string;
  readonly properties: Readonly<Record<string, string>>;
}): string {
  const p = r.properties;
  return [r.result, p['verdict'], p['reasons'], p['digest'], p['stale']].map((v) => v ?? '').join('\u0000');
}

function messageOf(r: ContainerResult): string {
  const reasons = r.reasons.length === 0 ? '' : ` (${r.reasons.join(', ')})`;
  const head = r.stale
    ? `${r.verdict}, the last definite verdict, kept while the current one is Unknown${reasons}`
    : `${r.verdict}${reasons}`;
  const text = r.message === '' ? head : `${head}: ${r.message}`;
  return text.length > maxMessage ? `${text.slice(0, maxMessage - 1)}…` : text;
}

/** One result without its timestamp, which the caller takes from the remembered times. */
function mapResult(pod: TrimmedPod, r: ContainerResult): Omit<ReportResult, 'timestamp'> {
  const result = resultOf[r.verdict];
  const kind = pod.containers.find((c) => c.name === r.container)?.kind ?? 'container';
  return {
    source: 'sigwatch',
    policy: r.policy,
    rule: reportRule,
    category,
    result,
    // The ImagePolicy has no severity of its own: a running image failing its supply-chain policy is high.
    ...(result === 'fail' ? { severity: 'high' as const } : {}),
    scored: true,
    message: messageOf(r),
    resources: [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: pod.namespace,
        name: pod.name,
        ...(pod.uid === '' ? {} : { uid: pod.uid }),
        fieldPath: `spec.${fieldOf[kind]}{${r.container}}`,
      },
    ],
    properties: {
      container: r.container,
      image: r.image,
      digest: r.digest,
      verdict: r.verdict,
      ...(r.reasons.length === 0 ? {} : { reasons: r.reasons.join(',') }),
      ...(r.stale ? { stale: 'true' } : {}),
    },
  };
}

/**
 * The report a namespace should have now, or undefined when none of its pods
 * has a result (the report is then deleted). `times` are the remembered
 * first-seen times; the returned `times` replace them (entries of results
 * that are gone are dropped, new outcomes get `now`).
 */
export function buildPolicyReport(
  namespace: string,
  pods: Iterable<ReportedPod>,
  times: ResultTimes,
  now: Date,
  limits: ReportLimits = defaultReportLimits,
): { report: PolicyReport | undefined; times: Map<string, { signature: string; at: number }> } {
  const nextTimes = new Map<string, { signature: string; at: number }>();
  const all: Keyed[] = [];
  const summary: Record<ReportResultValue, number> = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const { pod, results } of pods) {
    for (const r of results) {
      const mapped = mapResult(pod, r);
      const id = resultId(pod.name, r.container, r.policy);
      const signature = resultSignature(mapped);
      const before = times.get(id);
      const at = before?.signature === signature ? before.at : now.getTime();
      nextTimes.set(id, { signature, at });
      all.push({ id, result: { ...mapped, timestamp: { seconds: Math.floor(at / 1000), nanos: 0 } } });
      summary[mapped.result]++;
    }
  }
  if (all.length === 0) return { report: undefined, times: nextTimes };
  // By pod, container, policy: a stable order, so equal content compares equal.
  all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const results = withinLimits(all, limits);
  const omitted = all.length - results.length;
  return {
    report: {
      apiVersion: 'wgpolicyk8s.io/v1alpha2',
      kind: 'PolicyReport',
      metadata: {
        name: reportName,
        namespace,
        labels: { [managedByLabel]: 'sigwatch' },
        ...(omitted === 0 ? {} : { annotations: { [omittedAnnotation]: String(omitted) } }),
      },
      results,
      summary,
    },
    times: nextTimes,
  };
}

interface Keyed {
  readonly id: string;
  readonly result: ReportResult;
}

/** The results kept under the limits (in the given order): the most important first, fails before passes. */
function withinLimits(sorted: readonly Keyed[], limits: ReportLimits): ReportResult[] {
  // Each result's bytes in the serialized list, with its comma (the brackets are noise).
  const sizes = sorted.map((k) => Buffer.byteLength(JSON.stringify(k.result)) + 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (sorted.length <= limits.maxResults && total <= limits.maxBytes) return sorted.map((k) => k.result);
  const keep = new Set<number>();
  let bytes = 0;
  // Passes are left out first, then skips, errors, warnings; failures last.
  for (const value of ['fail', 'warn', 'error', 'skip', 'pass'] as const) {
    for (const [i, k] of sorted.entries()) {
      if (k.result.result !== value) continue;
      const size = sizes[i] ?? 0;
      if (keep.size >= limits.maxResults || bytes + size > limits.maxBytes) return kept(sorted, keep);
      bytes += size;
      keep.add(i);
    }
  }
  return kept(sorted, keep);
}

const kept = (sorted: readonly Keyed[], keep: ReadonlySet<number>): ReportResult[] =>
  sorted.flatMap((k, i) => (keep.has(i) ? [k.result] : []));

/**
 * What is compared to decide whether a report must be written: Sigwatch's own
 * labels and annotations, the results and the summary, in canonical JSON (the
 * API server returns keys in its own order). Works on a report read back from
 * the API server as on a built one.
 */
export function reportContent(report: unknown): string {
  const o = obj(report);
  const meta = obj(o?.['metadata']);
  const annotations = Object.fromEntries(
    Object.entries(obj(meta?.['annotations']) ?? {}).filter(([k]) => k.startsWith('sigwatch.dev/')),
  );
  return (
    canonicalize({
      labels: meta?.['labels'] ?? {},
      annotations,
      results: o?.['results'] ?? [],
      summary: o?.['summary'] ?? {},
    }) ?? ''
  );
}

/**
 * The first-seen times held in a report read back from the API server (written
 * by an earlier leader), so a restart keeps them and an unchanged namespace is
 * not rewritten. Anything malformed is skipped: it only costs a new time.
 */
export function timesFromReport(report: unknown): Map<string, { signature: string; at: number }> {
  const times = new Map<string, { signature: string; at: number }>();
  const results = obj(report)?.['results'];
  for (const raw of Array.isArray(results) ? (results as unknown[]) : []) {
    const r = obj(raw);
    const properties = obj(r?.['properties']) ?? {};
    const strings: Record<string, string> = {};
    for (const [k, v] of Object.entries(properties)) if (typeof v === 'string') strings[k] = v;
    const resources = r?.['resources'];
    const pod = obj(Array.isArray(resources) ? (resources as unknown[])[0] : undefined)?.['name'];
    const seconds = obj(r?.['timestamp'])?.['seconds'];
    const policy = r?.['policy'];
    const result = r?.['result'];
    const container = strings['container'];
    if (
      typeof pod !== 'string' ||
      typeof policy !== 'string' ||
      typeof result !== 'string' ||
      container === undefined ||
      typeof seconds !== 'number' ||
      !Number.isSafeInteger(seconds)
    )
      continue;
    times.set(resultId(pod, container, policy), {
      signature: resultSignature({ result, properties: strings }),
      at: seconds * 1000,
    });
  }
  return times;
}
