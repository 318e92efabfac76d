/**
 * The aggregated API `inventory.sigwatch.dev/v1alpha1`, served by the
 * leader (the Service selects `sigwatch.dev/leader=true`) over TLS to the
 * API server's front proxy only. Each request: the front proxy's client
 * certificate and the user it names (front-proxy.ts), a SubjectAccessReview
 * for the request's attributes (authorizer.ts), then an answer from memory
 * (resources.ts) — nothing is fetched, nothing is stored.
 *
 * Errors are `Status` objects as every Kubernetes API answers them, so
 * kubectl prints "Error from server (Forbidden): …". GET and POST only;
 * request bodies (PackageQuery) are capped at 64 KiB and 10 seconds.
 *
 * This module routes a request through those steps in order and owns the
 * TLS server; the steps live beside it: client-certificates.ts, access.ts,
 * requests.ts (paths, verbs, bodies), resource-handlers.ts (the answers)
 * and status-errors.ts (how a refusal is sent).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PackageRule } from '../../sbom/query.js';
import { calledByApiServer, listen } from '../kube/http.js';
import type { Logger } from '../kube/logger.js';
import { Access } from './access.js';
import type { Authorizer, ResourceAttributes } from './authorizer.js';
import { FrontProxyAuthentication } from './client-certificates.js';
import { discoveryDocument } from './discovery.js';
import type { RequestHeaderConfig } from './front-proxy.js';
import { checkCanonical, parseTarget, verbOf } from './requests.js';
import { ResourceHandlers, type VerdictSource } from './resource-handlers.js';
import { group, version } from './resources.js';
import { HttpError, send, sendStatus } from './status-errors.js';

export interface ApiServerOptions {
  readonly host: string;
  /** 0: any free port (tests). */
  readonly port: number;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  /** The current request-header settings; undefined: nobody can be authenticated. */
  readonly frontProxy: () => RequestHeaderConfig | undefined;
  readonly authorizer: Pick<Authorizer, 'authorize'>;
  readonly isLeader: () => boolean;
  readonly source: VerdictSource;
  /** Parses `purl` and `versions` into a rule; throws a SigwatchError (UsageError) on bad input. */
  readonly rule: (purl: string, versions: string | undefined) => PackageRule;
  readonly logger: Logger;
  readonly now?: () => number;
}

export interface ApiServer {
  readonly port: number;
  /** A new serving certificate, or (without one) a new request-header CA: applies to new connections. */
  update(tls?: { readonly certPem: string; readonly keyPem: string }): void;
  close(): Promise<void>;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const now = options.now ?? Date.now;
  const authentication = new FrontProxyAuthentication(options.frontProxy, now);
  const access = new Access(options.authorizer, options.logger);
  const handlers = new ResourceHandlers({ source: options.source, rule: options.rule, access, now });

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const user = authentication.authenticate(req);
    const raw = req.url ?? '/';
    const url = new URL(raw, 'https://api');
    checkCanonical(raw, url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const doc = req.method === 'GET' ? discoveryDocument(path) : undefined;
    // Discovery is public to every authenticated user, as `system:discovery` makes it on the API server.
    if (doc !== undefined) {
      send(res, 200, doc);
      return;
    }
    const target = parseTarget(path);
    if (target === undefined)
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const verb = verbOf(req.method ?? '', target, url);
    if (!target.info.verbs.includes(verb))
      throw new HttpError(405, 'MethodNotAllowed', `${verb} is not supported on ${target.info.name}`);
    for (const p of ['labelSelector', 'fieldSelector'])
      if ((url.searchParams.get(p) ?? '') !== '')
        throw new HttpError(400, 'BadRequest', `${p} is not supported on ${target.info.name}`);
    const attributes: ResourceAttributes = {
      verb,
      group,
      version,
      resource: target.info.name,
      namespace: target.namespace,
      ...(target.name === undefined ? {} : { name: target.name }),
    };
    await access.check(user, attributes);
    // Only the leader judges; a follower reached during a failover says so rather than answer stale.
    if (!options.isLeader())
      throw new HttpError(503, 'ServiceUnavailable', 'this replica is not the leader; try again', {
        'retry-after': '2',
      });
    await handlers.answer(req, res, target, user);
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendStatus(res, error);
        return;
      }
      options.logger.error('aggregated API request failed', { error: String(error) });
      sendStatus(res, new HttpError(500, 'InternalError', 'internal error'));
    });
  };

  const context = (tls: { certPem: string; keyPem: string }): { cert: string; key: string; ca: string } => ({
    cert: tls.certPem,
    key: tls.keyPem,
    ca: authentication.caPem,
  });
  let current = options.tls;
  const server: Server = createServer(
    {
      ...context(current),
      // The front proxy's certificate is checked per request (authenticate): a connection without one
      // still gets a Status 401 rather than a failed handshake nobody can read.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      handshakeTimeout: 10_000,
      // Room for the groups and extras of a real user; beyond it Node answers 431.
      maxHeaderSize: 64 * 1024,
    },
    listener,
  );
  const listening = await listen(calledByApiServer(server), options.host, options.port);
  return {
    port: listening.port,
    update(tls) {
      if (tls !== undefined) current = tls;
      authentication.refresh();
      server.setSecureContext(context(current));
    },
    close: () => listening.close(),
  };
}
