/**
 * Where the API server is and how to authenticate to it: a connection the
 * operator's own HTTPS client (KubeHttp, the reflectors, leader election)
 * applies to every request.
 *
 * In a pod it is built here by Kubernetes' documented in-cluster rules, as
 * client-go's `rest.InClusterConfig` builds it: the server from
 * `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT`, the mounted CA, and
 * the service-account token, re-read at most once a minute because the
 * kubelet rotates the projected token in place. Only when a kubeconfig is in
 * play (a flag, `$KUBECONFIG`, `~/.kube/config`: the CLI and out-of-cluster
 * runs) is `@kubernetes/client-node` imported, lazily, and its `KubeConfig`
 * does the work (exec plugins, client certificates, token files): importing it
 * costs about 80 MiB of RSS, because its entry point loads every generated
 * model, which the operator in a pod never needs.
 *
 * https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { Agent, type RequestOptions } from 'node:https';
import { isIP, isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { SigwatchError } from '../../base/errors.js';

export type KubeConnectionErrorCode =
  /** Neither a kubeconfig nor `KUBERNETES_SERVICE_HOST`/`_PORT`: not in a pod. */
  | 'NotInCluster'
  /** In a pod, but the mounted token or CA cannot be read, or the service address is malformed. */
  | 'InClusterConfigInvalid'
  /** The kubeconfig names no current cluster. */
  | 'KubeconfigInvalid';

export class KubeConnectionError extends SigwatchError<KubeConnectionErrorCode> {}

export interface KubeConnection {
  /** The API server's base URL, e.g. `https://10.96.0.1:443`. */
  readonly server: string;
  /**
   * Adds the server's CA and the credentials (bearer token or client
   * certificate) to `options`, headers merged. May read a rotated token file.
   */
  authorize(options: RequestOptions): Promise<void>;
}

/** The documented mount of a pod's service account (token, ca.crt, namespace). */
export const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

/** client-go re-reads the token file at most this often (its cachingTokenSource around a file source). */
const tokenRefreshMs = 60_000;

export interface InClusterOptions {
  /** Default `process.env`; only KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are read. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default the documented mount, {@link serviceAccountDir}. */
  readonly dir?: string;
  /** Monotonic milliseconds, for the token's re-read period; default `performance.now()`. */
  readonly clock?: () => number;
}

/**
 * The in-cluster connection. Reads the token and CA once now, so a pod
 * without them fails at start-up rather than on its first request.
 *
 * @throws KubeConnectionError `NotInCluster` when the service variables are
 * unset, `InClusterConfigInvalid` when they are malformed or the token or CA
 * cannot be read
 */
export async function loadInCluster(options: InClusterOptions = {}): Promise<KubeConnection> {
  const env = options.env ?? process.env;
  const dir = options.dir ?? serviceAccountDir;
  const server = serviceURL(env['KUBERNETES_SERVICE_HOST'], env['KUBERNETES_SERVICE_PORT']);
  const ca = await readMounted(join(dir, 'ca.crt'));
  const token = new TokenFile(join(dir, 'token'), await readMounted(join(dir, 'token')), options.clock);
  // One agent for every request: connections are kept alive and reused, the CA parsed once per connection.
  // An idle socket is closed after 30 s, before the API server's own idle close (90 s) can race a reused request,
  // and a connection that died silently (a control-plane failover) is not handed to the next Lease renewal.
  const agent = new Agent({ keepAlive: true, timeout: 30_000, ca });
  return {
    server,
    async authorize(o: RequestOptions): Promise<void> {
      o.agent = agent;
      o.headers = {
        ...(o.headers as OutgoingHttpHeaders | undefined),
        authorization: `Bearer ${await token.get()}`,
      };
    },
  };
}

/** `https://host:port`, as client-go joins them (IPv6 in brackets); anything else in them is refused. */
function serviceURL(host: string | undefined, port: string | undefined): string {
  if (host === undefined || host === '' || port === undefined || port === '')
    throw new KubeConnectionError(
      'NotInCluster',
      'not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set',
    );
  const portNumber = /^\d{1,5}$/.test(port) ? Number(port) : 0;
  // An IP or a DNS name and nothing else: a host smuggling a path, credentials or another port must not
  // send the operator's token elsewhere.
  const isName = isIP(host) !== 0 || /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(host);
  if (!isName || portNumber < 1 || portNumber > 65_535)
    throw new KubeConnectionError(
      'InClusterConfigInvalid',
      `KUBERNETES_SERVICE_HOST/PORT do not form an address: ${JSON.stringify(host)}, ${JSON.stringify(port)}`,
    );
  return `https://${isIPv6(host) ? `[${host}]` : host}:${String(portNumber)}`;
}

async function readMounted(path: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (error: unknown) {
    throw new KubeConnectionError('InClusterConfigInvalid', `cannot read ${path}`, { cause: error });
  }
  if (text === '') throw new KubeConnectionError('InClusterConfigInvalid', `${path} is empty`);
  return text;
}

/**
 * The projected service-account token: the kubelet replaces the file well
 * before the token expires, so it is re-read once `refreshMs` have passed.
 * A failed or empty re-read keeps the token in hand (as client-go does): the
 * API server, not a transient file error, decides when it no longer counts.
 */
export class TokenFile {
  private token: string;
  private readAt: number;
  private reading: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly path: string,
    initial: string,
    clock?: () => number,
    private readonly refreshMs = tokenRefreshMs,
  ) {
    this.token = initial;
    this.now = clock ?? (() => performance.now());
    this.readAt = this.now();
  }

  async get(): Promise<string> {
    if (this.now() - this.readAt >= this.refreshMs) {
      // One read however many requests arrive meanwhile.
      this.reading ??= this.reread().finally(() => {
        this.reading = undefined;
      });
      await this.reading;
    }
    return this.token;
  }

  private async reread(): Promise<void> {
    try {
      const text = (await readFile(this.path, 'utf8')).trim();
      if (text !== '') this.token = text;
    } catch {
      // Keep the token in hand; the next period tries again.
    }
    this.readAt = this.now();
  }
}

/**
 * A connection from a loaded kubeconfig's current context; `KubeConfig`
 * applies its own credentials (exec plugins refresh on their own).
 *
 * @throws KubeConnectionError `KubeconfigInvalid` when no cluster is current
 */
export function kubeConfigConnection(kc: KubeConfig): KubeConnection {
  const cluster = kc.getCurrentCluster();
  if (cluster === null)
    throw new KubeConnectionError('KubeconfigInvalid', 'the kubeconfig has no current cluster');
  return { server: cluster.server, authorize: (o) => kc.applyToHTTPSOptions(o) };
}

export interface ConnectionSources {
  /** An explicit kubeconfig file (`--kubeconfig`). */
  readonly kubeconfig?: string;
  /** Default `process.env`: `KUBECONFIG` and the in-cluster variables. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default the user's home directory, for `~/.kube/config`. */
  readonly home?: string;
  /** Default the documented service-account mount. */
  readonly serviceAccountDir?: string;
}

/**
 * The connection by the order `sigwatch run --kubeconfig` documents (and
 * client-node's `loadFromDefault` follows): the flag's file, `$KUBECONFIG`,
 * `~/.kube/config`, then in-cluster.
 *
 * @throws KubeConnectionError (see {@link loadInCluster}); a kubeconfig that
 * cannot be parsed throws client-node's error
 */
export async function loadKubeConnection(sources: ConnectionSources = {}): Promise<KubeConnection> {
  const env = sources.env ?? process.env;
  const home = sources.home ?? homedir();
  const fromFile =
    sources.kubeconfig !== undefined ||
    (env['KUBECONFIG'] ?? '') !== '' ||
    existsSync(join(home, '.kube', 'config'));
  if (!fromFile)
    return loadInCluster({
      env,
      ...(sources.serviceAccountDir === undefined ? {} : { dir: sources.serviceAccountDir }),
    });
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (sources.kubeconfig !== undefined) kc.loadFromFile(sources.kubeconfig);
  else kc.loadFromDefault();
  return kubeConfigConnection(kc);
}
