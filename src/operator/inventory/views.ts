/**
 * Inventory answers (design §5) built from what the controller holds: the
 * running digests with where they run and their verdicts, and the package
 * query's matches. Pure; the aggregated API (api/) serves them.
 */
import { verdictSeverity, type Verdict } from '../../policy/verdict.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import type { ComponentHit } from './packages.js';

export interface ImageEntry {
  /** `registry/repository@digest`. */
  readonly image: string;
  /** How pod specs name it (tags or digests). */
  readonly references: string[];
  readonly pods: number;
  readonly namespaces: string[];
  /** Worst effective verdict per policy over the containers running it. */
  readonly verdicts: Record<string, Verdict>;
}

/** Every judged running digest, sorted by name. */
export function imagesView(
  pods: ReadonlyMap<string, TrimmedPod>,
  results: ReadonlyMap<string, readonly ContainerResult[]>,
): { images: ImageEntry[] } {
  const byDigest = new Map<
    string,
    { refs: Set<string>; pods: Set<string>; ns: Set<string>; verdicts: Record<string, Verdict> }
  >();
  for (const [key, list] of results) {
    const pod = pods.get(key);
    if (pod === undefined) continue;
    for (const r of list) {
      let e = byDigest.get(r.digestKey);
      if (e === undefined) {
        e = { refs: new Set(), pods: new Set(), ns: new Set(), verdicts: {} };
        byDigest.set(r.digestKey, e);
      }
      e.refs.add(r.image);
      e.pods.add(key);
      e.ns.add(pod.namespace);
      const before = e.verdicts[r.policy];
      if (before === undefined || verdictSeverity[r.verdict] > verdictSeverity[before])
        e.verdicts[r.policy] = r.verdict;
    }
  }
  return {
    images: [...byDigest]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([image, e]) => ({
        image,
        references: [...e.refs].sort(),
        pods: e.pods.size,
        namespaces: [...e.ns].sort(),
        verdicts: e.verdicts,
      })),
  };
}

/** The components answer: pods whose signed SBOMs list the package in range (or with an incomparable version). */
export function componentsView(hits: readonly ComponentHit[]): unknown {
  const matches = hits.filter((h) => h.inRange !== false);
  return {
    pods: new Set(matches.map((h) => `${h.namespace}/${h.pod}`)).size,
    matches: matches.map((h) => ({
      namespace: h.namespace,
      pod: h.pod,
      container: h.container,
      image: h.image,
      digest: h.digestKey,
      purl: h.purl,
      ...(h.version === undefined ? {} : { version: h.version }),
      inRange: h.inRange,
      signed: h.signed,
    })),
  };
}
