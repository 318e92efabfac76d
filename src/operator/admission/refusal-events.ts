/**
 * An Event in the refused object's namespace for each refusal (issue 17),
 * so `kubectl get events` shows it to whoever did not run the `kubectl
 * apply` (a GitOps controller's owner, a controller retrying a ReplicaSet).
 * Written by the replica that answered (the Service spreads requests over
 * all of them: a leader-only Event would miss half), never for a dry run,
 * once per (object, reasons) every 10 minutes — a ReplicaSet controller retrying its pods
 * makes no flood — at most 30 a minute in all (the webhook port cannot
 * tell the API server from a forged caller, whose made-up names must not
 * become a stream of writes), and only if the API server lets it be
 * recorded: a refused write is logged, never retried.
 */
import type { KubeHttp } from '../kube/client.js';
import { eventBody } from '../kube/events.js';
import type { Logger } from '../kube/logger.js';
import type { AdmissionDecision } from './judge.js';
import type { PodTemplate } from './workloads.js';

const quietMs = 600_000;
const maxRemembered = 10_000;
const maxPerMinute = 30;

const apiVersions: Readonly<Record<string, string>> = {
  Pod: 'v1',
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

export class RefusalEvents {
  private readonly sent = new Map<string, number>();
  private window = { start: 0, count: 0 };

  constructor(
    private readonly options: {
      readonly kube: KubeHttp;
      readonly logger: Logger;
    },
  ) {}

  /** Records the refusal in the background; never throws. */
  refused(template: PodTemplate, decision: AdmissionDecision): void {
    const denied = decision.results.filter((r) => r.effect === 'Deny');
    const reasons = [...new Set(denied.flatMap((r) => r.reasons))].sort();
    const id = `${template.namespace}/${template.kind}/${template.name}|${reasons.join(',')}`;
    const now = Date.now();
    const last = this.sent.get(id);
    if (last !== undefined && now - last < quietMs) return;
    if (now - this.window.start >= 60_000) this.window = { start: now, count: 0 };
    if (this.window.count >= maxPerMinute) return;
    this.window.count++;
    this.sent.set(id, now);
    if (this.sent.size > maxRemembered) this.sent.clear(); // bounded; at worst one repeated Event
    const images = denied
      .map((r) => `${r.image} (${r.policy}: ${r.reasons.join(', ') || r.verdict})`)
      .join('; ');
    const name = template.name.replace(/\*$/, '');
    const body = eventBody(
      {
        apiVersion: apiVersions[template.kind] ?? 'v1',
        kind: template.kind,
        namespace: template.namespace,
        name: template.name,
      },
      `${name === '' ? 'refused' : name}.sigwatch-`.slice(0, 200),
      { type: 'Warning', reason: 'AdmissionRefused', message: `refused at admission: ${images}` },
      now,
    );
    this.options.kube
      .send({
        method: 'POST',
        path: `/api/v1/namespaces/${encodeURIComponent(template.namespace)}/events`,
        body,
        timeoutMs: 5_000,
      })
      .then((res) => {
        if (res.status !== 201)
          this.options.logger.info('admission Event not recorded', { status: res.status });
      })
      .catch((error: unknown) => {
        this.options.logger.info('admission Event not recorded', { error: String(error) });
      });
  }
}
