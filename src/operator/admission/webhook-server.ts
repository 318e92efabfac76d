/**
 * The webhook's HTTPS endpoint (issue 17): `POST /validate` and `POST
 * /mutate`, AdmissionReview in and out, nothing else. The port is open to
 * the cluster (the API server is not a pod), so what arrives is bounded
 * before it is read: body size, requests in flight, header and request
 * time. A request the handler cannot read is a 400, never a crash; an
 * overloaded replica answers 429 and the API server applies the webhook's
 * failurePolicy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { calledByApiServer, listen } from '../kube/http.js';
import type { Logger } from '../kube/logger.js';
import { AdmissionError } from './errors.js';

export type WebhookOperation = 'validate' | 'mutate';

export interface WebhookServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  /** The AdmissionReview to answer with. @throws AdmissionError `BadReview` for a request that is not one */
  readonly handle: (operation: WebhookOperation, body: unknown) => Promise<object>;
  readonly logger: Logger;
  /** Requests answered at once; more get 429 (default 64). */
  readonly maxInFlight?: number;
  /**
   * Largest body read (default 5 MiB: the API server takes request bodies up to 3 MiB, an update adds
   * the stored object, at most etcd's 1.5 MiB).
   */
  readonly maxBodyBytes?: number;
  /** Time to receive the whole body (default 5 s); a slower sender gets 408. */
  readonly bodyTimeoutMs?: number;
}

export interface WebhookServer {
  readonly port: number;
  /** Serve a new certificate from the next handshake on (connections already open keep theirs). */
  update(tls: { readonly certPem: string; readonly keyPem: string }): void;
  /**
   * Stops taking connections, closes idle ones, lets the requests under way finish for up to
   * `graceMs`, then closes what is left.
   */
  close(graceMs?: number): Promise<void>;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new HttpFailure(413, `request body over ${String(max)} bytes`));
      return;
    }
    const timer = setTimeout(() => {
      reject(new HttpFailure(408, 'the request body did not arrive in time'));
      req.destroy();
    }, timeoutMs);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        clearTimeout(timer);
        reject(new HttpFailure(413, `request body over ${String(max)} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

function reply(res: ServerResponse, status: number, body: object | string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const routes: Readonly<Record<string, WebhookOperation>> = { '/validate': 'validate', '/mutate': 'mutate' };

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const maxInFlight = options.maxInFlight ?? 64;
  const maxBody = options.maxBodyBytes ?? 5 << 20;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 5_000;
  let inFlight = 0;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The API server appends `?timeout=10s`; the path alone routes.
    const operation = routes[(req.url ?? '').split('?')[0] ?? ''];
    if (operation === undefined) throw new HttpFailure(404, 'not found');
    if (req.method !== 'POST') throw new HttpFailure(405, 'POST only');
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
      throw new HttpFailure(415, 'an AdmissionReview is application/json');
    // The body first, within a few seconds (the API server sends it at once): a caller trickling
    // bytes holds a socket, never one of the slots real requests are judged in.
    const raw = await readBody(req, maxBody, bodyTimeoutMs);
    if (inFlight >= maxInFlight) throw new HttpFailure(429, 'too many admission requests in flight');
    inFlight++;
    try {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new HttpFailure(400, 'the body is not JSON');
      }
      reply(res, 200, await options.handle(operation, body));
    } finally {
      inFlight--;
    }
  };

  const server: Server = createServer(
    {
      cert: options.tls.certPem,
      key: options.tls.keyPem,
      minVersion: 'TLSv1.2',
      handshakeTimeout: 10_000,
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => {
      serve(req, res).catch((error: unknown) => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (error instanceof HttpFailure) reply(res, error.status, error.message);
        else if (error instanceof AdmissionError) reply(res, 400, `${error.code}: ${error.message}`);
        else {
          options.logger.error('admission request failed', { error: String(error) });
          reply(res, 500, 'internal error');
        }
      });
    },
  );
  // The API server gives up after the webhook's timeoutSeconds (10 s): 30 s per request is plenty.
  const listening = await listen(calledByApiServer(server), options.host, options.port);
  return {
    port: listening.port,
    update(tls) {
      server.setSecureContext({ cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.2' });
    },
    close: (graceMs = 0) =>
      graceMs <= 0
        ? listening.close()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              server.closeAllConnections();
            }, graceMs);
            server.close(() => {
              clearTimeout(timer);
              resolve();
            });
            server.closeIdleConnections();
          }),
  };
}
