/**
 * `sigwatch query PURL --cluster`: creates a PackageQuery
 * (`inventory.sigwatch.dev/v1alpha1`) through the API server with the
 * kubeconfig's own credentials, exactly what `kubectl create -f` would do;
 * the API server authenticates and authorizes the caller, and the operator
 * answers for the namespaces asked (`-n`, else all) if the caller may list
 * imageverdicts in each.
 */
import { CliError } from '../base/errors.js';

export interface ClusterQuery {
  readonly purl: string;
  readonly versions?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  /** Absent: all namespaces. */
  readonly namespaces?: readonly string[];
  readonly timeoutMs?: number;
}

export interface ClusterMatch {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly image: string;
  readonly digest: string;
  readonly purl: string;
  readonly version?: string;
  readonly inRange: boolean | 'unparseable';
  readonly signed: boolean;
}

/**
 * @throws CliError for bad input; Error with the API server's message when
 * it refuses or cannot be reached (the command reports it as undecided)
 */
export async function queryCluster(q: ClusterQuery): Promise<ClusterMatch[]> {
  // Loaded on demand: the Kubernetes client is heavy and only this path needs it.
  const [{ KubeConfig }, { KubeHttp, RateLimiter }, { kubeConfigConnection }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('../operator/kube/client.js'),
    import('../operator/kube/connection.js'),
  ]);
  const kc = new KubeConfig();
  if (q.kubeconfig === undefined) kc.loadFromDefault();
  else kc.loadFromFile(q.kubeconfig);
  if (q.context !== undefined) {
    if (kc.getContextObject(q.context) === null)
      throw new CliError('UsageError', `no context ${q.context} in the kubeconfig`);
    kc.setCurrentContext(q.context);
  }
  const kube = new KubeHttp(kubeConfigConnection(kc), new RateLimiter(5, 5), 'sigwatch query');
  const res = await kube.send({
    method: 'POST',
    path: '/apis/inventory.sigwatch.dev/v1alpha1/packagequeries',
    body: {
      apiVersion: 'inventory.sigwatch.dev/v1alpha1',
      kind: 'PackageQuery',
      spec: {
        purl: q.purl,
        ...(q.versions === undefined ? {} : { versions: q.versions }),
        ...(q.namespaces === undefined ? {} : { namespaces: q.namespaces }),
      },
    },
    timeoutMs: q.timeoutMs ?? 30_000,
  });
  const body = res.body as { message?: unknown; status?: { matches?: unknown } } | undefined;
  if (res.status === 400) throw new CliError('UsageError', String(body?.message));
  if (res.status < 200 || res.status > 299)
    throw new Error(
      `the API server answered ${String(res.status)}${typeof body?.message === 'string' ? `: ${body.message}` : ''}`,
    );
  const matches = body?.status?.matches;
  if (!Array.isArray(matches)) throw new Error('the PackageQuery came back without status.matches');
  return matches as ClusterMatch[];
}
