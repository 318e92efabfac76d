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
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { isSigwatchError } from '../../base/errors.js';
import type { PackageRule } from '../../sbom/query.js';
import { calledByApiServer, listen } from '../kube/http.js';
import type { ImageEntry } from '../inventory/views.js';
import type { Logger } from '../kube/logger.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import { AuthorizerBusy, type Authorizer, type Decision, type ResourceAttributes } from './authorizer.js';
import { apiGroup, apiGroupList, apiResourceList, openapi, openapiV3Path } from './discovery.js';
import { allowedProxy, userFromHeaders, type RequestHeaderConfig, type UserInfo } from './front-proxy.js';
import {
  answerPackageQuery,
  PackageQueryForbidden,
  readPackageQuery,
  type PackageHit,
} from './package-query.js';
import { mintServingCert } from '../tls/serving-cert.js';
import {
  apiVersion,
  group,
  imageVerdict,
  list,
  resources,
  runningImage,
  runningImageName,
  runningImageTable,
  verdictTable,
  version,
  type ResourceInfo,
} from './resources.js';

/** What the API answers from: the controller's pods and results. */
export interface VerdictSource {
  /** Pods with their results; one namespace, or all (undefined). */
  pods(namespace: string | undefined): Iterable<{ pod: TrimmedPod; results: readonly ContainerResult[] }>;
  pod(namespace: string, name: string): { pod: TrimmedPod; results: readonly ContainerResult[] } | undefined;
  images(): readonly ImageEntry[];
  /** Containers whose SBOMs list the package (in range, or not comparable); only in `namespaces` when given. */
  packageHits(rule: PackageRule, namespaces?: ReadonlySet<string>): readonly PackageHit[];
}

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

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const objectName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const maxBodyBytes = 64 * 1024;

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function status(res: ServerResponse, error: HttpError): void {
  send(
    res,
    error.code,
    {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: error.message,
      reason: error.reason,
      code: error.code,
    },
    error.headers,
  );
}

interface Target {
  readonly info: ResourceInfo;
  readonly namespace: string;
  readonly name?: string;
}

/** `/apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>]`, checked against what exists. */
function parseTarget(path: string): Target | undefined {
  const prefix = `/apis/${group}/${version}/`;
  if (!path.startsWith(prefix)) return undefined;
  const parts = path.slice(prefix.length).split('/');
  let namespace = '';
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1] ?? '';
    parts.splice(0, 2);
    if (!dnsLabel.test(namespace)) throw new HttpError(400, 'BadRequest', 'not a namespace name');
  }
  const [resource = '', name, ...rest] = parts;
  const info = Object.values(resources).find((r) => r.name === resource);
  if (info === undefined || rest.length > 0) return undefined;
  if (namespace !== '' && !info.namespaced) return undefined;
  if (name !== undefined && !objectName.test(name))
    throw new HttpError(400, 'BadRequest', 'not an object name');
  return { info, namespace, ...(name === undefined ? {} : { name }) };
}

function verbOf(method: string, target: Target, url: URL): ResourceAttributes['verb'] {
  if (method === 'POST' && target.name === undefined) return 'create';
  if (method === 'GET' && target.name !== undefined) return 'get';
  // As the API server parses it: any value but false/0 asks for a watch.
  const watch = url.searchParams.get('watch');
  if (method === 'GET')
    return watch !== null && !['false', '0'].includes(watch.toLowerCase()) ? 'watch' : 'list';
  throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on ${target.info.name}`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBodyBytes) {
      reject(
        new HttpError(
          413,
          'RequestEntityTooLarge',
          `request bodies are limited to ${String(maxBodyBytes)} bytes`,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new HttpError(408, 'Timeout', 'the request body did not arrive in time'));
    }, 10_000);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        clearTimeout(timer);
        req.destroy();
        reject(
          new HttpError(
            413,
            'RequestEntityTooLarge',
            `request bodies are limited to ${String(maxBodyBytes)} bytes`,
          ),
        );
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const wantsTable = (req: IncomingMessage): boolean =>
  /(^|[;,\s])as=Table(;|,|$)/.test(req.headers.accept ?? '');

function forbidden(user: UserInfo, attributes: ResourceAttributes, reason: string): HttpError {
  const scope =
    attributes.namespace === '' ? 'at the cluster scope' : `in the namespace "${attributes.namespace}"`;
  return new HttpError(
    403,
    'Forbidden',
    `${attributes.resource}.${group}${attributes.name === undefined ? '' : ` "${attributes.name}"`} is forbidden: User "${user.username}" cannot ${attributes.verb} resource "${attributes.resource}" in API group "${group}" ${scope}${reason === '' ? '' : `: ${reason}`}`,
  );
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const now = options.now ?? Date.now;

  /**
   * TLS checks the client certificate once, at the handshake, against the CA
   * bound when the connection was accepted. That proves the client holds the
   * key; whether the certificate chains to the front-proxy CA of *now* is
   * checked here, per connection and again whenever the CA changed (a
   * rotated-out proxy certificate stops at once, a still-trusted one keeps its
   * connection). Dates are checked on every request. Every refusal closes the
   * connection: a client without the certificate holds no idle connection.
   */
  const queriesInFlight = new Set<string>();
  let caGeneration = 0;
  let trustedCas: X509Certificate[] = [];
  const verifiedWith = new WeakMap<TLSSocket, number>();

  const authenticate = (req: IncomingMessage): UserInfo => {
    const config = options.frontProxy();
    const socket = req.socket as TLSSocket;
    const unauthorized = new HttpError(401, 'Unauthorized', 'Unauthorized', { connection: 'close' });
    if (config === undefined || !socket.authorized) throw unauthorized;
    const peer = socket.getPeerX509Certificate();
    const at = now();
    if (peer === undefined || Date.parse(peer.validFrom) > at || Date.parse(peer.validTo) < at)
      throw unauthorized;
    if (verifiedWith.get(socket) !== caGeneration) {
      if (!trustedCas.some((ca) => peer.checkIssued(ca) && peer.verify(ca.publicKey))) throw unauthorized;
      verifiedWith.set(socket, caGeneration);
    }
    const cn = (socket.getPeerCertificate() as Partial<PeerCertificate>).subject?.CN;
    if (!allowedProxy(config, typeof cn === 'string' ? cn : undefined)) throw unauthorized;
    const user = userFromHeaders(config, req.headersDistinct);
    if (user === undefined) throw unauthorized;
    return user;
  };

  /** The API server's answer; never "allowed" when it cannot be asked. */
  const decide = async (user: UserInfo, attributes: ResourceAttributes): Promise<Decision> => {
    try {
      return await options.authorizer.authorize(user, attributes);
    } catch (error: unknown) {
      if (error instanceof AuthorizerBusy)
        throw new HttpError(429, 'TooManyRequests', 'too many requests; try again', { 'retry-after': '1' });
      options.logger.warn('aggregated API: access review failed', {
        error: error instanceof Error ? error.message : String(error),
      });
      throw new HttpError(
        503,
        'ServiceUnavailable',
        'the API server could not review the request; try again',
      );
    }
  };

  const check = async (user: UserInfo, attributes: ResourceAttributes): Promise<void> => {
    const decision = await decide(user, attributes);
    if (!decision.allowed) throw forbidden(user, attributes, decision.reason);
  };

  const discovery = (path: string): unknown => {
    switch (path) {
      case '/apis':
        return apiGroupList;
      case `/apis/${group}`:
        return apiGroup;
      case `/apis/${group}/${version}`:
        return apiResourceList;
      case '/openapi/v2':
        return openapi.v2Body;
      case '/openapi/v3':
        return openapi.v3Root;
      case openapiV3Path:
        return openapi.v3Body;
      default:
        return undefined;
    }
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const user = authenticate(req);
    const raw = req.url ?? '/';
    const url = new URL(raw, 'https://api');
    // Only canonical paths: `..`, `.`, `//` and escapes the URL parser resolves would make the API
    // server's audit log name another request than the one answered.
    if (
      !raw.startsWith('/') ||
      raw.split('?')[0] !== url.pathname ||
      /\/\/|%2e|%2f|\/\.\.?(\/|$)/i.test(raw.split('?')[0] ?? '')
    )
      throw new HttpError(400, 'BadRequest', 'not a canonical path');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const doc = req.method === 'GET' ? discovery(path) : undefined;
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
    await check(user, attributes);
    // Only the leader judges; a follower reached during a failover says so rather than answer stale.
    if (!options.isLeader())
      throw new HttpError(503, 'ServiceUnavailable', 'this replica is not the leader; try again', {
        'retry-after': '2',
      });
    const table = wantsTable(req);
    switch (target.info.name) {
      case 'imageverdicts': {
        if (target.name !== undefined) {
          const found = options.source.pod(target.namespace, target.name);
          if (found === undefined)
            throw new HttpError(404, 'NotFound', `imageverdicts.${group} "${target.name}" not found`);
          const object = imageVerdict(found.pod, found.results);
          send(res, 200, table ? verdictTable([object], now()) : object);
          return;
        }
        const objects = [...options.source.pods(target.namespace === '' ? undefined : target.namespace)]
          .map(({ pod, results }) => imageVerdict(pod, results))
          .sort((a, b) =>
            a.metadata.namespace === b.metadata.namespace
              ? a.metadata.name < b.metadata.name
                ? -1
                : 1
              : a.metadata.namespace < b.metadata.namespace
                ? -1
                : 1,
          );
        send(res, 200, table ? verdictTable(objects, now()) : list('ImageVerdict', objects));
        return;
      }
      case 'runningimages': {
        let entries = options.source.images();
        if (target.name !== undefined) {
          entries = entries.filter((e) => runningImageName(e.image) === target.name);
          if (entries[0] === undefined)
            throw new HttpError(404, 'NotFound', `runningimages.${group} "${target.name}" not found`);
          send(res, 200, table ? runningImageTable(entries) : runningImage(entries[0]));
          return;
        }
        send(res, 200, table ? runningImageTable(entries) : list('RunningImage', entries.map(runningImage)));
        return;
      }
      case 'packagequeries': {
        let query;
        try {
          query = readPackageQuery(await readBody(req), options.rule);
        } catch (error: unknown) {
          if (error instanceof HttpError) throw error;
          if (!isSigwatchError(error) && !(error instanceof SyntaxError)) throw error;
          throw new HttpError(400, 'BadRequest', error.message);
        }
        // One query per user at a time: each may ask up to 50 reviews, and the review budget is shared.
        if (queriesInFlight.has(user.username))
          throw new HttpError(429, 'TooManyRequests', 'a PackageQuery of yours is still running; try again', {
            'retry-after': '1',
          });
        queriesInFlight.add(user.username);
        const answer = await answerPackageQuery(
          query,
          (namespaces) => options.source.packageHits(query.rule, namespaces),
          (ns) =>
            decide(user, { verb: 'list', group, version, resource: 'imageverdicts', namespace: ns }).then(
              (d) => d.allowed,
            ),
        )
          .catch((error: unknown) => {
            if (error instanceof PackageQueryForbidden)
              throw new HttpError(
                403,
                'Forbidden',
                `packagequeries.${group} is forbidden: User "${user.username}": ${error.message}`,
              );
            throw error;
          })
          .finally(() => {
            queriesInFlight.delete(user.username);
          });
        send(res, 201, { apiVersion, kind: 'PackageQuery', metadata: {}, spec: query.spec, status: answer });
        return;
      }
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        status(res, error);
        return;
      }
      options.logger.error('aggregated API request failed', { error: String(error) });
      status(res, new HttpError(500, 'InternalError', 'internal error'));
    });
  };

  // Without a front-proxy CA yet, a CA nobody holds the key of: never Node's default roots, which
  // would verify any publicly issued client certificate.
  const nobodysCa = mintServingCert(['no-front-proxy-yet'], new Date()).caPem;
  let trusted = options.frontProxy()?.ca ?? nobodysCa;
  /** Every certificate of a PEM bundle; a block that does not parse is skipped (the handshake failed it already). */
  const parseBundle = (pem: string): X509Certificate[] =>
    (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).flatMap((block) => {
      try {
        return [new X509Certificate(block)];
      } catch {
        return [];
      }
    });
  trustedCas = parseBundle(trusted);
  const context = (tls: { certPem: string; keyPem: string }): { cert: string; key: string; ca: string } => ({
    cert: tls.certPem,
    key: tls.keyPem,
    ca: trusted,
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
      const ca = options.frontProxy()?.ca ?? nobodysCa;
      if (ca !== trusted) {
        trusted = ca;
        trustedCas = parseBundle(ca);
        caGeneration++;
      }
      server.setSecureContext(context(current));
    },
    close: () => listening.close(),
  };
}
