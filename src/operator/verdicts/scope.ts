/**
 * Which pods a policy judges (design §2 `match`): namespace and pod label
 * selectors, excluded namespaces, and the built-in exclusion of system
 * namespaces and the operator's own — a rule in code, not a list an admin
 * might misspell, so a typo never widens a policy to kube-system.
 */
import type { ImagePolicySpec, LabelSelector } from '../../policy/spec.js';
import type { ReadyPolicy } from '../../policy/compile.js';
import { policyMatches } from '../../policy/evaluate.js';
import { evidenceKeyString, type EvidenceKey } from '../evidence/store.js';
import { imageName, reportedImage, type TrimmedContainer, type TrimmedPod } from '../pod.js';

export const systemNamespaces: ReadonlySet<string> = new Set([
  'kube-system',
  'kube-public',
  'kube-node-lease',
]);

/** metav1.LabelSelector semantics; an absent or empty selector matches everything. */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (selector === undefined) return true;
  // Own keys only: `constructor` or `toString` is a valid label key, and no pod has it by inheritance.
  const label = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (label(k) !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const value = label(e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
    }
  }
  return true;
}

export interface ScopeContext {
  readonly operatorNamespace: string;
  /** Labels of the pod's namespace; undefined while the namespace is not (yet) known. */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
}

/** Whether `policy` judges pods of this pod's namespace and labels (images are matched per container). */
export function policySelectsPod(
  policy: { readonly spec: Pick<ImagePolicySpec, 'match'> },
  pod: Pick<TrimmedPod, 'namespace' | 'labels'>,
  context: ScopeContext,
): boolean {
  const m = policy.spec.match;
  const system = systemNamespaces.has(pod.namespace) || pod.namespace === context.operatorNamespace;
  if (system && !m.includeSystemNamespaces) return false;
  if (m.excludeNamespaces.includes(pod.namespace)) return false;
  if (m.namespaceSelector !== undefined) {
    // Unknown namespace labels cannot satisfy a selector: judged once the namespace is seen.
    if (
      context.namespaceLabels === undefined ||
      !selectorMatches(m.namespaceSelector, context.namespaceLabels)
    ) {
      return false;
    }
  }
  return selectorMatches(m.podSelector, pod.labels);
}

/** A container whose node-reported digest some selecting policy matches. */
export interface MatchedContainer {
  readonly container: TrimmedContainer;
  readonly digest: string;
  readonly key: EvidenceKey;
  /** `evidenceKeyString(key)`. */
  readonly id: string;
  readonly matching: readonly ReadyPolicy[];
}

/**
 * The pod's containers that policies judge: those with a digest the node
 * reported and a selecting policy whose `match.images` names it. `reported`:
 * some container has a reported digest (a pod still Pending is not "unmatched").
 */
export function matchedContainers(
  pod: TrimmedPod,
  selecting: readonly ReadyPolicy[],
): { readonly reported: boolean; readonly matched: readonly MatchedContainer[] } {
  let reported = false;
  const matched: MatchedContainer[] = [];
  for (const container of pod.containers) {
    const img = reportedImage(container);
    if (img.kind !== 'digest') continue;
    reported = true;
    const matching = selecting.filter((p) => policyMatches(p, imageName(img)));
    if (matching.length === 0) continue;
    const key: EvidenceKey = { registry: img.registry, repository: img.repository, digest: img.digest };
    matched.push({ container, digest: img.digest, key, id: evidenceKeyString(key), matching });
  }
  return { reported, matched };
}
