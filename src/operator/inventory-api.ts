/**
 * The inventory API (design §5), on its own port: what runs where, which
 * running pods contain a package, and one pod's verdicts — answered from
 * memory, never by fetching. Every request needs a bearer token that the
 * API server accepts and whose user may `get` `/api/v1/inventory`
 * (access-review.ts); an API server that cannot be asked means 503, never
 * a free pass.
 *
 * Only the leader holds fresh answers (followers verify nothing), so a
 * follower answers 307 to the leader's advertised URL, after checking the
 * caller like the leader would. GET only; no request body is read.
 */
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isSigwatchError } from '../base/errors.js';
import type { PackageRule } from '../sbom/query.js';
import type { Access } from './access-review.js';
import { listen } from './http.js';
import type { Logger } from './logger.js';

export interface InventorySource {
  images(): unknown;
  components(rule: PackageRule): unknown;
  /** undefined: no such pod (or not judged yet). */
  podVerdicts(namespace: string, pod: string): unknown;
}

export interface InventoryServerOptions {
  readonly host: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** PEM files; without them the port speaks plain HTTP (behind a NetworkPolicy, or for a local run). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly check: (token: string) => Promise<Access>;
  /** true on the leader; the leader's base URL on a follower (undefined while unknown). */
  readonly leader: () => true | string | undefined;
  readonly source: InventorySource;
  /** Parses `purl` and `versions` into a rule; throws a SigwatchError (UsageError) on bad input. */
  readonly rule: (purl: string, versions: string | undefined) => PackageRule;
  readonly logger: Logger;
}

export interface InventoryServer {
  readonly port: number;
  /** `http://` or `https://`. */
  readonly scheme: string;
  close(): Promise<void>;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

const problem = (
  res: ServerResponse,
  status: number,
  message: string,
  headers?: Record<string, string>,
): void => {
  json(res, status, { error: message }, headers);
};

const segment = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export async function startInventoryServer(options: InventoryServerOptions): Promise<InventoryServer> {
  const answer = (url: URL, res: ServerResponse): void => {
    const path = url.pathname;
    if (path === '/api/v1/inventory/images') {
      json(res, 200, options.source.images());
      return;
    }
    if (path === '/api/v1/inventory/components') {
      const purl = url.searchParams.get('purl');
      if (purl === null) {
        problem(res, 400, 'the query parameter purl is required');
        return;
      }
      let rule: PackageRule;
      try {
        rule = options.rule(purl, url.searchParams.get('versions') ?? undefined);
      } catch (error: unknown) {
        if (!isSigwatchError(error)) throw error;
        problem(res, 400, error.message);
        return;
      }
      json(res, 200, options.source.components(rule));
      return;
    }
    const verdicts = /^\/api\/v1\/verdicts\/([^/]+)\/([^/]+)$/.exec(path);
    if (verdicts !== null) {
      const [namespace = '', pod = ''] = verdicts.slice(1).map((s) => decodeURIComponent(s));
      if (!segment.test(namespace) || !segment.test(pod)) {
        problem(res, 400, 'not a namespace and pod name');
        return;
      }
      const body = options.source.podVerdicts(namespace, pod);
      if (body === undefined) problem(res, 404, `no pod ${namespace}/${pod} is known`);
      else json(res, 200, body);
      return;
    }
    problem(res, 404, 'not found');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET') {
      problem(res, 405, 'method not allowed', { allow: 'GET' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://inventory');
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (token === undefined) {
      problem(res, 401, 'a bearer token is required', { 'www-authenticate': 'Bearer' });
      return;
    }
    let access: Access;
    try {
      access = await options.check(token);
    } catch (error: unknown) {
      options.logger.warn('inventory API: access review failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      problem(res, 503, 'the API server could not review the token; try again');
      return;
    }
    if (access.kind === 'unauthenticated') {
      problem(res, 401, access.message, { 'www-authenticate': 'Bearer' });
      return;
    }
    if (access.kind === 'forbidden') {
      problem(res, 403, access.message);
      return;
    }
    const leader = options.leader();
    if (leader === undefined) {
      problem(res, 503, 'no leader is known yet; try again', { 'retry-after': '2' });
      return;
    }
    if (leader !== true) {
      // Built from the leader's URL with only our path and query put in: a path like `//evil.test/`
      // must not turn into another host.
      const target = new URL(leader);
      target.pathname = url.pathname.replace(/\/{2,}/g, '/');
      target.search = url.search;
      res.writeHead(307, { location: target.toString() });
      res.end();
      return;
    }
    answer(url, res);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error('inventory request failed', { error: String(error) });
      if (!res.headersSent) problem(res, 500, 'internal error');
      else res.destroy();
    });
  };
  const server =
    options.tls === undefined
      ? createHttpServer(listener)
      : createHttpsServer(
          { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) },
          listener,
        );
  server.headersTimeout = 5_000;
  server.requestTimeout = 30_000;
  const listening = await listen(server, options.host, options.port);
  return { ...listening, scheme: options.tls === undefined ? 'http://' : 'https://' };
}
