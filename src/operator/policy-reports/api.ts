/**
 * The API-server side of `--policy-reports`: create-or-replace, delete and
 * list Sigwatch's PolicyReports with get/list/create/update/delete only (the
 * rights of config/policy-reports). Every call has a deadline and the
 * writer's AbortSignal; a refusal is a KubeError with the HTTP status.
 *
 * Ownership: a report named `sigwatch` without the label
 * `app.kubernetes.io/managed-by=sigwatch` belongs to someone else and is
 * never replaced; a delete carries the uid Sigwatch wrote as a
 * precondition, so a report made since by someone else survives.
 */
import { KubeError, type KubeHttp, type KubeResponse } from '../kube/client.js';
import { managedByLabel, reportContent, reportName, type PolicyReport } from './build.js';

/** What is known of a stored report: its compared content and identity. */
export interface StoredReport {
  readonly content: string;
  readonly uid: string;
  readonly resourceVersion: string;
}

const group = '/apis/wgpolicyk8s.io/v1alpha2';
const listPageSize = 50;
/** Conflicts (another writer, a vanished object) read again at most this often per save. */
const maxAttempts = 3;

const collection = (ns: string): string => `${group}/namespaces/${encodeURIComponent(ns)}/policyreports`;
const item = (ns: string): string => `${collection(ns)}/${reportName}`;
const ok = (res: KubeResponse): boolean => res.status >= 200 && res.status < 300;

function meta(body: unknown): { uid: string; resourceVersion: string; labels: Record<string, unknown> } {
  const m = (
    body as { metadata?: { uid?: unknown; resourceVersion?: unknown; labels?: unknown } } | undefined
  )?.metadata;
  return {
    uid: typeof m?.uid === 'string' ? m.uid : '',
    resourceVersion: typeof m?.resourceVersion === 'string' ? m.resourceVersion : '',
    labels: typeof m?.labels === 'object' && m.labels !== null ? (m.labels as Record<string, unknown>) : {},
  };
}

export class PolicyReportApi {
  constructor(
    private readonly kube: KubeHttp,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Creates the namespace's report, or replaces the one `before` names; conflicts are read again (bounded). */
  async save(
    ns: string,
    report: PolicyReport,
    content: string,
    before: StoredReport | undefined,
  ): Promise<{ outcome: 'created' | 'updated'; stored: StoredReport }> {
    let current: { uid: string; resourceVersion: string } | undefined = before;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const res =
        current === undefined
          ? await this.request('POST', `${collection(ns)}?fieldManager=sigwatch`, report)
          : await this.request('PUT', `${item(ns)}?fieldManager=sigwatch`, {
              ...report,
              metadata: { ...report.metadata, resourceVersion: current.resourceVersion },
            });
      if (ok(res)) {
        const { uid, resourceVersion } = meta(res.body);
        return {
          outcome: current === undefined ? 'created' : 'updated',
          stored: { content, uid, resourceVersion },
        };
      }
      if (res.status === 409 || (res.status === 404 && current !== undefined))
        current = await this.identity(ns);
      else throw this.refused(current === undefined ? 'POST' : 'PUT', ns, res);
    }
    throw new KubeError('KubeRequestFailed', `PolicyReport ${ns}/${reportName}: conflicts persisted`, 409);
  }

  /** Deletes the report Sigwatch stored (gone already, or replaced by someone else's: nothing to do). */
  async remove(ns: string, before: StoredReport): Promise<void> {
    const res = await this.request('DELETE', item(ns), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions: { uid: before.uid },
    });
    if (!ok(res) && res.status !== 404 && res.status !== 409) throw this.refused('DELETE', ns, res);
  }

  /** Every report Sigwatch stored (any replica, any time), page by page. */
  async list(): Promise<{ namespace: string; stored: StoredReport; raw: unknown }[]> {
    const selector = encodeURIComponent(`${managedByLabel}=sigwatch`);
    const fields = encodeURIComponent(`metadata.name=${reportName}`);
    const found: { namespace: string; stored: StoredReport; raw: unknown }[] = [];
    let next = '';
    do {
      const res = await this.request(
        'GET',
        `${group}/policyreports?labelSelector=${selector}&fieldSelector=${fields}&limit=${String(listPageSize)}${next === '' ? '' : `&continue=${encodeURIComponent(next)}`}`,
      );
      if (!ok(res)) throw this.refused('LIST', '*', res);
      const body = res.body as { items?: unknown; metadata?: { continue?: unknown } } | undefined;
      for (const raw of Array.isArray(body?.items) ? (body.items as unknown[]) : []) {
        const namespace = (raw as { metadata?: { namespace?: unknown } } | undefined)?.metadata?.namespace;
        if (typeof namespace !== 'string') continue;
        const { uid, resourceVersion } = meta(raw);
        found.push({ namespace, stored: { content: reportContent(raw), uid, resourceVersion }, raw });
      }
      next = typeof body?.metadata?.continue === 'string' ? body.metadata.continue : '';
    } while (next !== '');
    return found;
  }

  /** The stored report's identity, if any; one Sigwatch does not manage is refused. */
  private async identity(ns: string): Promise<{ uid: string; resourceVersion: string } | undefined> {
    const res = await this.request('GET', item(ns));
    if (res.status === 404) return undefined;
    if (!ok(res)) throw this.refused('GET', ns, res);
    const m = meta(res.body);
    if (m.labels[managedByLabel] !== 'sigwatch')
      throw new KubeError(
        'KubeRequestFailed',
        `PolicyReport ${ns}/${reportName} exists and is not managed by Sigwatch (label ${managedByLabel})`,
        409,
      );
    return m;
  }

  private request(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<KubeResponse> {
    return this.kube.send({
      method,
      path,
      ...(body === undefined ? {} : { body }),
      timeoutMs: this.timeoutMs,
      signal: this.signal,
    });
  }

  private refused(method: string, ns: string, res: KubeResponse): KubeError {
    const message = (res.body as { message?: unknown } | undefined)?.message;
    return new KubeError(
      'KubeRequestFailed',
      `${method} PolicyReport ${ns}/${reportName}: ${String(res.status)} ${typeof message === 'string' ? message : ''}`.trim(),
      res.status,
    );
  }
}
