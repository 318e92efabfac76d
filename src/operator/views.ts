/**
 * What the controller's readers see of it: an ImageAudit run reads the pods,
 * namespace labels and policies held now; the aggregated API reads pods with
 * their results, the images view and the package search. Built here, beside
 * the wiring, so that the controller knows nothing of its readers.
 */
import type { AuditWorld } from './audits/run.js';
import type { VerdictSource } from './api/resource-handlers.js';
import type { Controller } from './controller.js';
import { imagesView } from './inventory/views.js';
import type { TrimmedPod } from './pod.js';
import type { ContainerResult } from './verdicts/policy-status.js';

export function auditWorld(
  controller: Controller,
  operatorNamespace: string,
): AuditWorld & { readonly policyLabels: (name: string) => Readonly<Record<string, string>> } {
  return {
    pods: [...controller.currentPods.values()],
    namespaceLabels: (name) => controller.namespaceLabels(name),
    policies: controller.compiledPolicies(),
    operatorNamespace,
    policyLabels: (name) => controller.policyLabels(name),
  };
}

export function verdictSource(controller: Controller): VerdictSource {
  const withResults = (pod: TrimmedPod): { pod: TrimmedPod; results: readonly ContainerResult[] } => ({
    pod,
    results: controller.currentResults.get(`${pod.namespace}/${pod.name}`) ?? [],
  });
  return {
    pods: (namespace) =>
      [...controller.currentPods.values()]
        .filter((p) => namespace === undefined || p.namespace === namespace)
        .map(withResults),
    pod: (namespace, name) => {
      const pod = controller.currentPods.get(`${namespace}/${name}`);
      return pod === undefined ? undefined : withResults(pod);
    },
    images: () => imagesView(controller.currentPods, controller.currentResults).images,
    packageHits: (rule, namespaces) =>
      controller.containersWithPackage(rule, namespaces).filter((h) => h.inRange !== false),
  };
}
