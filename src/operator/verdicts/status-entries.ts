/**
 * The lists of `ImagePolicy.status` (design §2): `violations`, the
 * NonCompliant containers of the pods the summary counts NonCompliant, and
 * `unknown`, the Unknown containers of the pods it counts Unknown. Both come
 * from the one verdict each pod is counted by, so a list never names a pod
 * the summary counts elsewhere, and a violation only ever carries a definite
 * reason — a stale NonCompliant (the current verdict Unknown, the last
 * definite one kept) is explained by that definite verdict's own reasons.
 *
 * Each entry's `since` is when its verdict was judged — the judgement's own
 * clock, before any Event about it is written — whole seconds as every
 * metav1.Time, and kept across restarts and leader changes through the
 * stored status (the earlier of the two wins).
 */
import { isDefiniteReason, type Reason } from '../../base/reasons.js';
import { asArray, asObject, asString } from '../../base/json.js';
import type { Verdict } from '../../policy/verdict.js';
import type { DefiniteVerdict } from './pod-label.js';

/** What an entry is built from: one container's verdict under one policy (a ContainerResult, policy-status.ts). */
export interface JudgedContainer {
  readonly policy: string;
  readonly container: string;
  readonly image: string;
  readonly digest: string;
  /** Effective verdict: the last definite one while the current is Unknown (`stale`). */
  readonly verdict: Verdict;
  readonly stale: boolean;
  /** The current verdict's. */
  readonly reasons: readonly Reason[];
  readonly message: string;
  /** While stale: the last definite verdict, which explains `verdict`. */
  readonly lastDefinite?: DefiniteVerdict;
}

export interface Violation {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  digest: string;
  /** The verdict's first definite reason. */
  reason: string;
  message: string;
  since: string;
  /** Present (true) while the current verdict is Unknown and this is the last definite one. */
  stale?: true;
}

export interface UnknownEntry {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  digest: string;
  reasons: string[];
  message: string;
  since: string;
}

/** Entries per list: the newest, as `kubectl get -o yaml` can still show them. */
export const maxEntries = 50;
const maxMessage = 1024;
const maxReasons = 16;

/** What an entry's start is remembered by besides its pod: container, digest, and verdict with its reason. */
const entryId = (container: string, digest: string, kind: string): string => `${container}|${digest}|${kind}`;

/** The verdict an entry stands for: `NonCompliant:<reason>` or `Unknown`; undefined for a passing one. */
function entryKind(r: JudgedContainer): string | undefined {
  if (r.verdict === 'NonCompliant') return `NonCompliant:${violationReason(r)}`;
  return r.verdict === 'Unknown' ? 'Unknown' : undefined;
}

/** The reasons that explain `r.verdict`: while stale, the last definite verdict's. */
const reasonsOf = (r: JudgedContainer): readonly Reason[] => r.lastDefinite?.reasons ?? r.reasons;

/** A NonCompliant verdict's reasons are definite by construction (policy/verdict.ts); the fallback names no reason. */
const violationReason = (r: JudgedContainer): string => reasonsOf(r).find(isDefiniteReason) ?? 'NonCompliant';

const wholeSeconds = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * When each pod's current verdicts were first judged (ms), per policy,
 * container and digest. Updated with every judgement, not when the status is
 * computed (debounced, later): a verdict's time is never after the Event the
 * same judgement writes.
 */
export class VerdictTimes {
  private readonly byPod = new Map<string, ReadonlyMap<string, number>>();

  /** `results` judged at `atMs`: a verdict already held keeps its time; one no longer held is forgotten. */
  set(podKey: string, results: readonly JudgedContainer[], atMs: number): void {
    const before = this.byPod.get(podKey);
    const times = new Map<string, number>();
    for (const r of results) {
      const kind = entryKind(r);
      if (kind === undefined) continue;
      const id = `${r.policy}|${entryId(r.container, r.digest, kind)}`;
      times.set(id, before?.get(id) ?? atMs);
    }
    if (times.size === 0) this.byPod.delete(podKey);
    else this.byPod.set(podKey, times);
  }

  get(podKey: string, r: JudgedContainer): number | undefined {
    const kind = entryKind(r);
    return kind === undefined
      ? undefined
      : this.byPod.get(podKey)?.get(`${r.policy}|${entryId(r.container, r.digest, kind)}`);
  }
}

const isTime = (v: string | undefined): v is string => v !== undefined && Number.isFinite(Date.parse(v));

/** `since` of every stored entry (both lists), by `namespace/pod|container|digest|kind`; anything malformed is skipped. */
export function readStoredSince(status: Readonly<Record<string, unknown>> | undefined): Map<string, string> {
  const since = new Map<string, string>();
  const read = (
    list: unknown,
    kindOf: (o: Readonly<Record<string, unknown>>) => string | undefined,
  ): void => {
    for (const v of asArray(list).slice(0, maxEntries)) {
      const o = asObject(v);
      if (o === undefined) continue;
      const [namespace, pod, container, digest, at] = [
        'namespace',
        'pod',
        'container',
        'digest',
        'since',
      ].map((k) => asString(o[k]));
      const kind = kindOf(o);
      if (namespace === undefined || pod === undefined || container === undefined || digest === undefined)
        continue;
      if (kind !== undefined && isTime(at))
        since.set(`${namespace}/${pod}|${entryId(container, digest, kind)}`, at);
    }
  };
  read(status?.['violations'], (o) => {
    const reason = asString(o['reason']);
    return reason === undefined ? undefined : `NonCompliant:${reason}`;
  });
  read(status?.['unknown'], () => 'Unknown');
  return since;
}

/**
 * Builds both lists from each pod's worst verdict under one policy. `since`
 * of an entry: the earlier of its judgement time and a stored one that is
 * not in the future (anyone who may write the status could store a time that
 * would otherwise stand for ever).
 */
export class EntryLists {
  readonly violations: Violation[] = [];
  readonly unknown: UnknownEntry[] = [];

  constructor(
    private readonly times: VerdictTimes,
    private readonly stored: ReadonlyMap<string, string> | undefined,
    private readonly nowMs: number,
  ) {}

  /** Adds the entries of a pod counted as `worst` (`results`: under this policy): its containers with that verdict, and only those. */
  add(podKey: string, worst: Verdict, results: readonly JudgedContainer[]): void {
    if (worst !== 'NonCompliant' && worst !== 'Unknown') return;
    const [namespace = '', pod = ''] = podKey.split('/');
    for (const r of results) {
      if (r.verdict !== worst) continue;
      const kind = entryKind(r) ?? worst;
      const storedAt = Date.parse(
        this.stored?.get(`${podKey}|${entryId(r.container, r.digest, kind)}`) ?? '',
      );
      const judgedAt = this.times.get(podKey, r) ?? this.nowMs;
      const since = wholeSeconds(storedAt <= this.nowMs ? Math.min(storedAt, judgedAt) : judgedAt);
      const base = { namespace, pod, container: r.container, image: r.image, digest: r.digest };
      const message = (r.lastDefinite?.message ?? r.message).slice(0, maxMessage);
      if (worst === 'NonCompliant')
        this.violations.push({
          ...base,
          reason: violationReason(r),
          message,
          since,
          ...(r.stale ? { stale: true as const } : {}),
        });
      else this.unknown.push({ ...base, reasons: r.reasons.slice(0, maxReasons), message, since });
    }
  }

  /** Newest first, ties in a fixed order (an unchanged status must serialise the same), at most `maxEntries` each. */
  finish(): { violations: Violation[]; unknown: UnknownEntry[] } {
    return { violations: newest(this.violations), unknown: newest(this.unknown) };
  }
}

function newest<
  T extends { since: string; namespace: string; pod: string; container: string; digest: string },
>(entries: T[]): T[] {
  const key = (e: T): string => `${e.namespace}/${e.pod}|${e.container}|${e.digest}`;
  return entries
    .sort((a, b) =>
      a.since !== b.since ? (a.since < b.since ? 1 : -1) : key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0,
    )
    .slice(0, maxEntries);
}
