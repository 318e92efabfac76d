/**
 * The probe and metrics port (design §5): `/metrics`, `/healthz`, `/readyz`.
 * GET and HEAD only, no request bodies read, short timeouts: nothing on this
 * port can tie the operator up.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.js';

/**
 * Not `import … from 'node:http'`: an ES import of node:http reads every
 * export, and its WebSocket, MessageEvent and CloseEvent getters load Node's
 * bundled undici (fetch and all), which nothing here uses. The CommonJS
 * module object loads them only if read.
 */
const { createServer } = process.getBuiltinModule('node:http');

export interface ProbeServerOptions {
  readonly host: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** What `/metrics` serves (the operator's prom-client registry). */
  readonly metrics: { metricsText(): Promise<string>; readonly contentType: string };
  readonly isHealthy: () => boolean;
  /** true, or why the operator is not ready. */
  readonly isReady: () => true | string;
  readonly logger: Logger;
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'method not allowed\n');
      return;
    }
    const path = new URL(req.url ?? '/', 'http://probe').pathname;
    switch (path) {
      case '/metrics':
        send(res, 200, await options.metrics.metricsText(), options.metrics.contentType);
        return;
      case '/healthz':
        if (options.isHealthy()) send(res, 200, 'ok\n');
        else send(res, 500, 'unhealthy\n');
        return;
      case '/readyz': {
        const ready = options.isReady();
        if (ready === true) send(res, 200, 'ok\n');
        else send(res, 503, `not ready: ${ready}\n`);
        return;
      }
      default:
        send(res, 404, 'not found\n');
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.logger.error('probe request failed', { error: String(error) });
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  return listen(server, options.host, options.port);
}

/**
 * Timeouts of a server the API server calls (aggregated API, webhook):
 * headers within 10 s, a request within 30 s, and idle connections kept
 * longer than the API server's own (90 s), so a connection it reuses is
 * never one this side is closing — that would fail a POST it cannot retry.
 */
export function calledByApiServer<T extends Server>(server: T): T {
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 120_000;
  return server;
}

/** Listens on `host:port` (0: any free port) and returns the port and a close that drops open connections. */
export async function listen(server: Server, host: string, port: number): Promise<ProbeServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
