/**
 * The objects of `inventory.sigwatch.dev/v1alpha1`, built from what the
 * controller holds (pure; these shapes are the API, and openapi.ts
 * describes them):
 *
 * - `ImageVerdict` (namespaced, get/list): one per pod, named like it, each
 *   container's image, running digest, verdict and why, per policy;
 * - `RunningImage` (cluster-scoped, get/list): each judged running digest,
 *   where it runs and its worst verdict per policy;
 * - `PackageQuery` (cluster-scoped, create only, like a
 *   SubjectAccessReview): which running pods contain a package; the answer
 *   is in the returned object's `status` and nothing is stored.
 *
 * Tables (`kubectl get`'s `as=Table`) are built here too, one row per
 * container for verdicts, so a tenant sees at a glance which container of
 * which pod fails and why.
 */
import { createHash } from 'node:crypto';
import { verdictSeverity, type Verdict } from '../../policy/verdict.js';
import type { ImageEntry } from '../inventory/views.js';
import { reportedImage, type TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';

export const group = 'inventory.sigwatch.dev';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

export interface ResourceInfo {
  readonly name: string;
  readonly singularName: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
  readonly shortNames?: readonly string[];
}

export const resources: Readonly<Record<'imageverdicts' | 'runningimages' | 'packagequeries', ResourceInfo>> =
  {
    imageverdicts: {
      name: 'imageverdicts',
      singularName: 'imageverdict',
      kind: 'ImageVerdict',
      namespaced: true,
      verbs: ['get', 'list'],
      shortNames: ['iv'],
    },
    runningimages: {
      name: 'runningimages',
      singularName: 'runningimage',
      kind: 'RunningImage',
      namespaced: false,
      verbs: ['get', 'list'],
    },
    packagequeries: {
      name: 'packagequeries',
      singularName: 'packagequery',
      kind: 'PackageQuery',
      namespaced: false,
      verbs: ['create'],
    },
  };

export type ContainerStatus = 'Judged' | 'Pending' | 'DigestUnresolved' | 'NotJudged';

export interface ContainerVerdict {
  readonly name: string;
  readonly kind: string;
  /** The image as the pod spec names it, canonical (`registry/repository:tag` or `@digest`). */
  readonly image: string;
  /** `registry/repository@sha256:…`, what the node reports it runs; absent until it reports one. */
  readonly digest?: string;
  readonly status: ContainerStatus;
  /** The worst effective verdict over the policies that judged it; absent unless Judged. */
  readonly verdict?: Verdict;
  readonly reasons: readonly string[];
  /** Some policy's verdict is an older definite one kept while the current check is Unknown. */
  readonly stale: boolean;
  /** When the earliest evidence behind a Compliant verdict expires (RFC 3339). */
  readonly validUntil?: string;
  readonly policies: readonly {
    readonly name: string;
    readonly verdict: Verdict;
    readonly current: Verdict;
    readonly stale: boolean;
    readonly reasons: readonly string[];
    readonly message: string;
  }[];
}

export interface ImageVerdictObject {
  readonly apiVersion: string;
  readonly kind: 'ImageVerdict';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly uid: string;
    readonly creationTimestamp?: string;
  };
  readonly phase: string;
  readonly containers: readonly ContainerVerdict[];
}

const worst = (verdicts: readonly Verdict[]): Verdict | undefined =>
  verdicts.reduce<Verdict | undefined>(
    (w, v) => (w === undefined || verdictSeverity[v] > verdictSeverity[w] ? v : w),
    undefined,
  );

/** The ImageVerdict of one pod from the controller's results for it. */
export function imageVerdict(pod: TrimmedPod, results: readonly ContainerResult[]): ImageVerdictObject {
  return {
    apiVersion,
    kind: 'ImageVerdict',
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      uid: pod.uid,
      ...(pod.createdAt === undefined ? {} : { creationTimestamp: pod.createdAt }),
    },
    phase: pod.phase,
    containers: pod.containers.map((c): ContainerVerdict => {
      const reported = reportedImage(c);
      const mine = results.filter((r) => r.container === c.name);
      const verdict = worst(mine.map((r) => r.verdict));
      const validUntil = mine
        .map((r) => r.validUntil)
        .filter((t): t is number => t !== undefined)
        .sort((a, b) => a - b)[0];
      return {
        name: c.name,
        kind: c.kind,
        image: c.image,
        ...(reported.kind === 'digest'
          ? { digest: `${reported.registry}/${reported.repository}@${reported.digest}` }
          : {}),
        status:
          reported.kind === 'pending'
            ? 'Pending'
            : reported.kind === 'unresolved'
              ? 'DigestUnresolved'
              : mine.length === 0
                ? 'NotJudged'
                : 'Judged',
        ...(verdict === undefined ? {} : { verdict }),
        // The reasons of the policies that decided the verdict, in a stable order.
        reasons: [...new Set(mine.filter((r) => r.verdict === verdict).flatMap((r) => r.reasons))].sort(),
        stale: mine.some((r) => r.stale),
        ...(validUntil === undefined ? {} : { validUntil: new Date(validUntil).toISOString() }),
        policies: mine.map((r) => ({
          name: r.policy,
          verdict: r.verdict,
          current: r.current,
          stale: r.stale,
          reasons: r.reasons,
          message: r.message,
        })),
      };
    }),
  };
}

/**
 * A RunningImage's name: the digest's first 16 hex digits and a hash of
 * its repository (the same digest can run from two repositories), a valid
 * object name whatever the registry's spelling.
 */
export function runningImageName(image: string): string {
  const at = image.lastIndexOf('@sha256:');
  const hex = at < 0 ? '' : image.slice(at + 8, at + 24);
  const repo = createHash('sha256')
    .update(at < 0 ? image : image.slice(0, at))
    .digest('hex')
    .slice(0, 8);
  return `${hex}-${repo}`;
}

export function runningImage(entry: ImageEntry): object {
  return {
    apiVersion,
    kind: 'RunningImage',
    metadata: { name: runningImageName(entry.image) },
    image: entry.image,
    references: entry.references,
    pods: entry.pods,
    namespaces: entry.namespaces,
    verdicts: entry.verdicts,
  };
}

export function list(kind: string, items: readonly object[]): object {
  return { apiVersion, kind: `${kind}List`, metadata: { resourceVersion: '' }, items };
}

/** `5s`, `3m`, `2h`, `4d` — like kubectl's AGE column. */
export function age(since: string | undefined, now: number): string {
  if (since === undefined) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  if (Number.isNaN(s)) return '<unknown>';
  if (s < 120) return `${String(s)}s`;
  if (s < 7_200) return `${String(Math.floor(s / 60))}m`;
  if (s < 172_800) return `${String(Math.floor(s / 3_600))}h`;
  return `${String(Math.floor(s / 86_400))}d`;
}

interface Column {
  readonly name: string;
  readonly type: 'string' | 'integer';
  readonly description: string;
  readonly format?: string;
  readonly priority?: number;
}

function table(columns: readonly Column[], rows: { cells: unknown[]; object: object }[]): object {
  return {
    apiVersion: 'meta.k8s.io/v1',
    kind: 'Table',
    metadata: { resourceVersion: '' },
    columnDefinitions: columns.map((c) => ({ format: '', priority: 0, ...c })),
    rows,
  };
}

/** What a Table row carries of its object: enough for `-A`'s NAMESPACE column and `-o name`. */
function partial(metadata: { name: string; namespace?: string; creationTimestamp?: string }): object {
  return { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata };
}

const maxReasonsShown = 3;

/** One row per container: POD, CONTAINER, IMAGE, VERDICT, REASONS, AGE (DIGEST and STALE with -o wide). */
export function verdictTable(objects: readonly ImageVerdictObject[], now: number): object {
  const rows = objects.flatMap((o) =>
    o.containers.map((c) => ({
      cells: [
        o.metadata.name,
        c.name,
        c.image,
        c.verdict ?? c.status,
        c.reasons.length <= maxReasonsShown
          ? c.reasons.join(',')
          : `${c.reasons.slice(0, maxReasonsShown).join(',')},+${String(c.reasons.length - maxReasonsShown)}`,
        age(o.metadata.creationTimestamp, now),
        c.digest ?? '',
        String(c.stale),
      ],
      object: partial(o.metadata),
    })),
  );
  return table(
    [
      {
        name: 'Pod',
        type: 'string',
        format: 'name',
        description: 'The pod (the ImageVerdict has its name).',
      },
      { name: 'Container', type: 'string', description: 'The container, init container or sidecar.' },
      { name: 'Image', type: 'string', description: 'The image as the pod spec names it.' },
      { name: 'Verdict', type: 'string', description: 'Worst verdict over the policies that judged it.' },
      { name: 'Reasons', type: 'string', description: 'Why, as stable reason codes.' },
      { name: 'Age', type: 'string', description: "The pod's age." },
      { name: 'Digest', type: 'string', priority: 1, description: 'The digest the node reports it runs.' },
      {
        name: 'Stale',
        type: 'string',
        priority: 1,
        description: 'An older definite verdict kept while checks are Unknown.',
      },
    ],
    rows,
  );
}

export function runningImageTable(entries: readonly ImageEntry[]): object {
  return table(
    [
      { name: 'Name', type: 'string', format: 'name', description: 'Digest prefix and repository hash.' },
      { name: 'Image', type: 'string', description: 'registry/repository@digest.' },
      { name: 'Pods', type: 'integer', description: 'Pods running it.' },
      { name: 'Verdicts', type: 'string', description: 'Worst verdict per policy.' },
      { name: 'Namespaces', type: 'string', priority: 1, description: 'Where it runs.' },
    ],
    entries.map((e) => ({
      cells: [
        runningImageName(e.image),
        e.image,
        e.pods,
        Object.entries(e.verdicts)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([p, v]) => `${p}=${v}`)
          .join(','),
        e.namespaces.join(','),
      ],
      object: partial({ name: runningImageName(e.image) }),
    })),
  );
}
