/**
 * `sigwatch audit`: a one-shot audit of the current kubeconfig's cluster —
 * the "monthly audit script" supply-chain guides hand-write. It lists (never
 * watches) ImagePolicies, namespaces, running pods and the operator
 * namespace's Secrets and ConfigMaps (keys and trusted roots the policies
 * name), fetches every running digest's evidence fresh, and reports as an
 * ImageAudit run would (audit-run.ts).
 */
import type { AuditReport } from '../../audit/report.js';
import { compilePolicy } from '../../policy/compile.js';
import { RegistryClient } from '../../registry/client.js';
import { freshEvidence, runAudit, type AuditScope } from './run.js';
import { KubeHttp } from '../kube/client.js';
import { loadKubeConnection } from '../kube/connection.js';
import type { Logger } from '../kube/logger.js';
import { trimPod, type TrimmedPod } from '../pod.js';
import { registryCredentials, trimDataObject, TrustObjects } from '../evidence/trust-objects.js';
import { PublicGoodRoot } from '../evidence/trust-refresh.js';

export interface ClusterAuditOptions {
  readonly kubeconfig?: string;
  /** Where the operator's Secrets and ConfigMaps (keys, trusted roots, registry credentials) live. */
  readonly operatorNamespace: string;
  readonly scope: AuditScope;
  readonly insecureRegistries: readonly string[];
  readonly registryCredentialsSecret?: string;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
}

type Json = Readonly<Record<string, unknown>>;

/** Every item of a collection, page by page. A 403 is `undefined` (the caller says what is missing). */
async function listAll(kube: KubeHttp, path: string): Promise<unknown[] | undefined> {
  const items: unknown[] = [];
  let cont: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await kube.send({
      method: 'GET',
      path: `${path}${sep}limit=500${cont === undefined ? '' : `&continue=${encodeURIComponent(cont)}`}`,
      timeoutMs: 60_000,
    });
    if (res.status === 403) return undefined;
    if (res.status !== 200) throw new Error(`GET ${path}: ${String(res.status)} ${JSON.stringify(res.body)}`);
    const body = res.body as { items?: unknown[]; metadata?: { continue?: string } };
    items.push(...(body.items ?? []));
    cont = body.metadata?.continue === '' ? undefined : body.metadata?.continue;
  } while (cont !== undefined);
  return items;
}

export async function auditCluster(o: ClusterAuditOptions): Promise<AuditReport> {
  const kube = new KubeHttp(
    await loadKubeConnection(o.kubeconfig === undefined ? {} : { kubeconfig: o.kubeconfig }),
  );
  const ns = encodeURIComponent(o.operatorNamespace);
  const [policyItems, namespaceItems, podItems, secretItems, configMapItems] = await Promise.all([
    listAll(kube, '/apis/sigwatch.dev/v1alpha1/imagepolicies'),
    listAll(kube, '/api/v1/namespaces'),
    listAll(
      kube,
      o.scope.namespace === undefined
        ? '/api/v1/pods'
        : `/api/v1/namespaces/${encodeURIComponent(o.scope.namespace)}/pods`,
    ),
    listAll(kube, `/api/v1/namespaces/${ns}/secrets`),
    listAll(kube, `/api/v1/namespaces/${ns}/configmaps`),
  ]);
  if (policyItems === undefined || podItems === undefined)
    throw new Error('the kubeconfig user may not list ImagePolicies or pods');
  // Without them, policies that name a key Secret or a trusted-root ConfigMap are not ready and judge nothing.
  if (secretItems === undefined || configMapItems === undefined)
    o.logger.warn(
      `may not list Secrets or ConfigMaps in ${o.operatorNamespace}; policies that refer to them are skipped`,
    );
  const publicGood = new PublicGoodRoot({ enabled: false, logger: o.logger, onChange: () => undefined });
  const trust = new TrustObjects(() => publicGood.current(), o.logger);
  for (const raw of secretItems ?? []) {
    const d = trimDataObject(raw, true);
    if (d !== undefined) trust.setSecret(d.name, d);
  }
  for (const raw of configMapItems ?? []) {
    const d = trimDataObject(raw, false);
    if (d !== undefined) trust.setConfigMap(d.name, d);
  }
  const material = trust.material();
  const policies = policyItems.map((raw) => {
    const meta = ((raw as Json)['metadata'] ?? {}) as { name?: unknown; generation?: unknown };
    return compilePolicy(
      {
        name: typeof meta.name === 'string' ? meta.name : '',
        generation: typeof meta.generation === 'number' ? meta.generation : 0,
        spec: (raw as Json)['spec'],
      },
      material,
    );
  });
  for (const p of policies)
    if (!p.ready)
      o.logger.warn(
        `ImagePolicy ${p.name} is not ready and judges nothing: ${p.problems.map((x) => `${x.path}: ${x.message}`).join('; ')}`,
      );
  const namespaceLabels = new Map<string, Record<string, string>>();
  for (const raw of namespaceItems ?? []) {
    const meta = ((raw as Json)['metadata'] ?? {}) as { name?: unknown; labels?: unknown };
    if (typeof meta.name === 'string')
      namespaceLabels.set(meta.name, (meta.labels ?? {}) as Record<string, string>);
  }
  const pods = podItems.map(trimPod).filter((p): p is TrimmedPod => p !== undefined);
  const credentials =
    o.registryCredentialsSecret === undefined
      ? []
      : registryCredentials(trust.secret(o.registryCredentialsSecret), o.logger);
  const registry = new RegistryClient({
    plainHttpRegistries: o.insecureRegistries,
    credentials: () => credentials,
  });
  try {
    return await runAudit({
      audit: { namespace: '', name: 'sigwatch-audit' },
      world: {
        pods,
        namespaceLabels: (name) => namespaceLabels.get(name),
        policies,
        operatorNamespace: o.operatorNamespace,
      },
      scope: o.scope,
      evidence: freshEvidence(registry, () => o.signal ?? AbortSignal.timeout(600_000)),
      now: () => new Date(),
    });
  } finally {
    await registry.close();
  }
}
