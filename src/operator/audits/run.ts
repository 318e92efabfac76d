/**
 * One audit run (design §2): every running image in scope judged now
 * against the policies that match it, counted into a report
 * (audit/report.ts). The world it reads — pods, namespace labels, compiled
 * policies — and how evidence is had (fetched fresh, or reused when fetched
 * moments ago) are the caller's: `sigwatch audit` lists the cluster once,
 * the ImageAudit controller hands in what its watches hold.
 */
import pLimit from 'p-limit';
import { buildReport, type AuditReport, type JudgedImage } from '../../audit/report.js';
import type { CompiledPolicy, ReadyPolicy } from '../../policy/compile.js';
import { PolicyEvaluator } from '../../policy/evaluate.js';
import type { PolicyVerdict } from '../../policy/verdict.js';
import type { RegistryClient } from '../../registry/client.js';
import { collectEvidence, type Evidence } from '../../registry/evidence.js';
import { evidenceNeeds, type EvidenceKey } from '../evidence/store.js';
import { inScope, type TrimmedPod } from '../pod.js';
import { matchedContainers, policySelectsPod, selectorMatches } from '../verdicts/scope.js';
import type { LabelSelector } from '../../policy/spec.js';

export interface AuditScope {
  /** Only this namespace (an ImageAudit outside the operator's namespace); undefined: every namespace. */
  readonly namespace?: string;
  /** Further restricts namespaces by their labels (honoured only without `namespace`). */
  readonly namespaceSelector?: LabelSelector;
  /** Policy names to apply; undefined or empty: every policy. */
  readonly policies?: readonly string[];
}

export interface AuditWorld {
  readonly pods: Iterable<TrimmedPod>;
  readonly namespaceLabels: (namespace: string) => Readonly<Record<string, string>> | undefined;
  readonly policies: readonly CompiledPolicy[];
  readonly operatorNamespace: string;
}

/** Evidence for one digest under `policies`, fetched (or reused) now; throws only on cancellation. */
export type EvidenceSource = (key: EvidenceKey, policies: readonly ReadyPolicy[]) => Promise<Evidence>;

/** Evidence fetched now from the registry, with what `policies` need (no unsigned attachments: no verdict reads them). */
export function freshEvidence(registry: RegistryClient, signal: () => AbortSignal): EvidenceSource {
  return (key, policies) => {
    const needs = evidenceNeeds(policies, false);
    return collectEvidence(registry, {
      image: { registry: key.registry, repository: key.repository },
      digest: key.digest,
      extraRepositories: needs.extraRepositories,
      include: { attestations: needs.attestations, attachedSboms: false },
      now: new Date(),
      signal: signal(),
    });
  };
}

export async function runAudit(a: {
  readonly audit: { readonly namespace: string; readonly name: string };
  readonly world: AuditWorld;
  readonly scope: AuditScope;
  readonly evidence: EvidenceSource;
  readonly now: () => Date;
  /** Digests fetched at once (default 8). */
  readonly concurrency?: number;
}): Promise<AuditReport> {
  const started = a.now();
  const wanted =
    a.scope.policies === undefined || a.scope.policies.length === 0 ? undefined : new Set(a.scope.policies);
  const policies = a.world.policies.filter(
    (p): p is ReadyPolicy => p.ready && (wanted === undefined || wanted.has(p.name)),
  );
  const images = new Map<
    string,
    { key: EvidenceKey; refs: Set<string>; pods: Set<string>; policies: Map<string, ReadyPolicy> }
  >();
  const unmatched: string[] = [];
  for (const pod of a.world.pods) {
    if (!inScope(pod) || pod.phase !== 'Running') continue;
    if (a.scope.namespace !== undefined && pod.namespace !== a.scope.namespace) continue;
    const labels = a.world.namespaceLabels(pod.namespace);
    if (a.scope.namespace === undefined && a.scope.namespaceSelector !== undefined) {
      if (labels === undefined || !selectorMatches(a.scope.namespaceSelector, labels)) continue;
    }
    const context = { operatorNamespace: a.world.operatorNamespace, namespaceLabels: labels };
    const selecting = policies.filter((p) => policySelectsPod(p, pod, context));
    const { reported, matched } = matchedContainers(pod, selecting);
    for (const { container: c, key, id, matching } of matched) {
      let entry = images.get(id);
      if (entry === undefined) {
        entry = { key, refs: new Set(), pods: new Set(), policies: new Map() };
        images.set(id, entry);
      }
      entry.refs.add(c.image);
      entry.pods.add(`${pod.namespace}/${pod.name}`);
      for (const p of matching) entry.policies.set(p.name, p);
    }
    if (reported && matched.length === 0) unmatched.push(`${pod.namespace}/${pod.name}`);
  }
  const evaluator = new PolicyEvaluator();
  const limit = pLimit(a.concurrency ?? 8);
  const judged = await Promise.all(
    [...images].map(([id, e]) =>
      limit(async (): Promise<JudgedImage> => {
        const matching = [...e.policies.values()];
        const evidence = await a.evidence(e.key, matching);
        const now = a.now();
        const verdicts: PolicyVerdict[] = matching.map((p) => evaluator.evaluate(evidence, p, now));
        return {
          image: id,
          references: [...e.refs],
          pods: [...e.pods],
          verdicts,
          signedSbom: matching.some((p) => evaluator.signedSboms(evidence, p, now).length > 0),
        };
      }),
    ),
  );
  return buildReport({ audit: a.audit, time: started, images: judged, unmatchedPods: unmatched });
}
