/**
 * Which pods a policy judges (design §2 `match`): namespace and pod label
 * selectors, excluded namespaces, and the built-in exclusion of system
 * namespaces and the operator's own — a rule in code, not a list an admin
 * might misspell, so a typo never widens a policy to kube-system.
 */
import type { ImagePolicySpec, LabelSelector } from '../../policy/spec.js';
import type { TrimmedPod } from '../pod.js';

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
