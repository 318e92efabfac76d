/**
 * The ImageAudit status as the leader writes it: one merge patch at a time,
 * not sent again when the watch echoes an unchanged one, with conditions
 * that keep their transition time while their status stays. Apart from the
 * scheduling (controller.ts) and the run (scheduled-run.ts), which both
 * write here, because the memory of what was last written is shared by them
 * and must be cleared at once when the lease changes hands.
 */
import type { AuditReport } from '../../audit/report.js';
import type { AuditSpec } from '../../audit/spec.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import { auditLimits } from './report-parts.js';
import type { AuditCondition, WatchedAudit } from './watched-audit.js';

/** A condition to set: type, status, reason, message. */
export type ConditionRow = [string, 'True' | 'False', string, string];

export const auditKey = (a: { namespace: string; name: string }): string => `${a.namespace}/${a.name}`;

/** The conditions every valid audit carries: Ready, and whether its scope is restricted to its namespace. */
export function baseConditions(
  audit: WatchedAudit,
  spec: AuditSpec,
  operatorNamespace: string,
): ConditionRow[] {
  const restricted = audit.namespace !== operatorNamespace;
  return [
    ['Ready', 'True', 'Valid', ''],
    restricted
      ? [
          'ScopeRestricted',
          'True',
          'NamespacedAudit',
          `audits only namespace ${audit.namespace}${spec.namespaceSelector === undefined ? '' : ' (namespaceSelector is ignored outside the operator namespace)'}`,
        ]
      : ['ScopeRestricted', 'False', 'OperatorNamespace', ''],
  ];
}

/** `status.lastResult` of a finished run: the counts and the first few images to look at, bounded. */
export function lastResult(report: AuditReport, reportName: string): Record<string, unknown> {
  return {
    images: report.images,
    signed: report.signed,
    signedUntrusted: report.signedUntrusted,
    withSbom: report.withSbom,
    compliant: report.compliant,
    nonCompliant: report.nonCompliant,
    unknown: report.unknown,
    exempt: report.exempt,
    compliancePercent: report.compliancePercent,
    nonCompliantImages: report.entries
      .filter((e) => e.verdict === 'NonCompliant')
      .slice(0, auditLimits.listed)
      .map((e) => ({
        image: e.image,
        reasons: e.reasons,
        pods: e.pods.slice(0, auditLimits.podsPerListed),
      })),
    unsigned: report.entries
      .filter((e) => e.signature === 'unsigned' || e.signature === 'untrusted')
      .slice(0, auditLimits.listed)
      .map((e) => e.image),
    reportName,
  };
}

export interface AuditStatusOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly mayWrite: () => boolean;
  readonly now: () => Date;
}

export class AuditStatusWriter {
  /** Our last conditions per audit, for transition times. */
  private readonly conditions = new Map<string, AuditCondition[]>();
  /** The last status patch sent per audit: the watch echoes every write, and an unchanged one is not sent again. */
  private readonly lastPatch = new Map<string, string>();

  constructor(private readonly options: AuditStatusOptions) {}

  forget(key: string): void {
    this.conditions.delete(key);
    this.lastPatch.delete(key);
  }

  /** After gaining the lease: what this replica wrote before (if it led before) may be older than the status now. */
  clear(): void {
    this.conditions.clear();
    this.lastPatch.clear();
  }

  /** Merge-patches the status (leader only); conditions keep their transition time while unchanged. */
  async write(
    audit: WatchedAudit,
    fields: Record<string, unknown>,
    conditions: ConditionRow[],
  ): Promise<void> {
    if (!this.options.mayWrite()) return;
    const key = auditKey(audit);
    const now = this.options.now().toISOString();
    // Ours if we wrote since taking the lease, else what the status holds (a former leader's).
    const before = this.conditions.get(key) ?? audit.status.conditions;
    const merged = new Map(before.map((c) => [c.type, c]));
    for (const [type, status, reason, message] of conditions) {
      const old = merged.get(type);
      merged.set(type, {
        type,
        status,
        reason,
        message,
        lastTransitionTime: old?.status === status ? old.lastTransitionTime : now,
        observedGeneration: audit.generation,
      });
    }
    const list = [...merged.values()];
    this.conditions.set(key, list);
    const body = { status: { observedGeneration: audit.generation, ...fields, conditions: list } };
    const text = JSON.stringify(body);
    if (this.lastPatch.get(key) === text) return;
    const path = `/apis/sigwatch.dev/v1alpha1/namespaces/${encodeURIComponent(audit.namespace)}/imageaudits/${encodeURIComponent(audit.name)}/status`;
    try {
      const res = await this.options.kube.send({
        method: 'PATCH',
        path,
        body,
      });
      if (res.status >= 200 && res.status <= 299) this.lastPatch.set(key, text);
      else if (res.status !== 404)
        this.options.logger.warn('audit status write refused', { audit: key, status: res.status });
    } catch (error: unknown) {
      this.options.logger.warn('audit status write failed', {
        audit: key,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
