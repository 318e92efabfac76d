/**
 * `sigwatch query PURL --cluster`: asks a running operator's inventory API
 * which running pods contain the package, with the current kubeconfig's
 * bearer token (the operator checks it with TokenReview and
 * SubjectAccessReview). A follower's redirect to the leader is followed by
 * hand, at most three times, so the token goes only where an operator that
 * accepted it pointed.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CliError } from '../base/errors.js';

export interface ClusterQuery {
  readonly purl: string;
  readonly versions?: string;
  readonly url: string;
  readonly kubeconfig?: string;
  /** Overrides the kubeconfig's credentials. */
  readonly token?: string;
  /** PEM bundle to trust for an https inventory URL (default: the system's roots). */
  readonly caFile?: string;
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

/** The kubeconfig user's bearer token (static or from an exec plugin); client certificates have none. */
async function kubeconfigToken(path: string | undefined): Promise<string> {
  // Loaded on demand: the Kubernetes client is heavy and only this path needs it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (path === undefined) kc.loadFromDefault();
  else kc.loadFromFile(path);
  const options: { headers?: Record<string, unknown> } = {};
  await kc.applyToHTTPSOptions(options);
  const auth = options.headers?.['Authorization'] ?? options.headers?.['authorization'];
  const token = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
  if (token === undefined)
    throw new CliError(
      'UsageError',
      "the kubeconfig's user has no bearer token (the inventory API checks tokens with TokenReview); pass --token",
    );
  return token;
}

function get(
  url: URL,
  token: string,
  ca: Buffer | undefined,
  timeoutMs: number,
): Promise<{ status: number; location?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        ...(ca === undefined ? {} : { ca }),
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (body.length < 64 << 20) body += chunk;
        });
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            ...(res.headers.location === undefined ? {} : { location: res.headers.location }),
            body,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * @throws CliError for bad input; Error with the API's message when the
 * operator refuses or cannot be reached (the command reports it as undecided)
 */
export async function queryCluster(q: ClusterQuery): Promise<ClusterMatch[]> {
  let url: URL;
  try {
    url = new URL('/api/v1/inventory/components', q.url);
  } catch {
    throw new CliError('UsageError', `--inventory-url is not a URL: ${q.url}`);
  }
  url.searchParams.set('purl', q.purl);
  if (q.versions !== undefined) url.searchParams.set('versions', q.versions);
  const token = q.token ?? (await kubeconfigToken(q.kubeconfig));
  const ca = q.caFile === undefined ? undefined : readFileSync(q.caFile);
  for (let hop = 0; hop <= 3; hop++) {
    const res = await get(url, token, ca, q.timeoutMs ?? 30_000);
    if (res.status === 307 || res.status === 308) {
      if (res.location === undefined) throw new Error('the operator redirected without a location');
      const next = new URL(res.location, url);
      // The token follows only to the same scheme: never from https down to plain http.
      if (next.protocol !== url.protocol)
        throw new Error(
          `the operator redirected from ${url.protocol} to ${next.protocol}; not sending the token there`,
        );
      url = next;
      continue;
    }
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      throw new Error(`the inventory API answered ${String(res.status)} with something that is not JSON`);
    }
    if (res.status === 400) throw new CliError('UsageError', String((body as { error?: unknown }).error));
    if (res.status !== 200)
      throw new Error(
        `the inventory API answered ${String(res.status)}: ${String((body as { error?: unknown }).error)}`,
      );
    const matches = (body as { matches?: unknown }).matches;
    if (!Array.isArray(matches)) throw new Error('the inventory API answered without matches');
    return matches as ClusterMatch[];
  }
  throw new Error('too many redirects from the inventory API');
}
