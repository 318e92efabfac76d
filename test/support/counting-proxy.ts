/**
 * A counting HTTP proxy in front of a registry, so a test can assert exactly
 * which requests the code under test made (method + path, query excluded)
 * without trusting the code's own metrics. Listens on 127.0.0.1, a free port.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** `performance.now()` when the request arrived and when its answer was sent: which requests overlapped. */
  readonly startMs: number;
  readonly endMs: number;
}

export interface CountingProxy {
  /** host:port to use instead of the registry's. */
  readonly address: string;
  readonly requests: readonly RecordedRequest[];
  /** Number of recorded requests whose method matches and whose path matches `path` (regexp or exact). */
  count(method: string, path?: RegExp | string): number;
  reset(): void;
  close(): Promise<void>;
}

export interface CountingProxyOptions {
  /**
   * The proxy plays a private registry that wants these Basic credentials
   * (`user:password`), answering 401 with a Basic challenge otherwise; what it
   * forwards carries no Authorization.
   */
  readonly basicAuth?: string;
  /** Holds a request this long before forwarding it (slow registries, so that concurrent requests overlap). */
  readonly delayMs?: (path: string) => number;
  /** Answers a request with this status instead of forwarding it (undefined: forward). */
  readonly failWith?: (path: string) => number | undefined;
}

export async function startCountingProxy(
  target: string,
  options: CountingProxyOptions = {},
): Promise<CountingProxy> {
  const parts = target.split(':');
  const host = parts[0] ?? '127.0.0.1';
  const port = Number(parts[1]);
  const requests: { -readonly [K in keyof RecordedRequest]: RecordedRequest[K] }[] = [];
  const wanted =
    options.basicAuth === undefined
      ? undefined
      : `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;

  const handle = (req: IncomingMessage, res: ServerResponse, path: string, startMs: number): void => {
    const record = (status: number): void => {
      const entry = { method: req.method ?? 'GET', path, status, startMs, endMs: Number.NaN };
      requests.push(entry);
      res.once('close', () => {
        entry.endMs = performance.now();
      });
    };
    const failure = options.failWith?.(path);
    if (failure !== undefined) {
      record(failure);
      req.resume();
      res.writeHead(failure, { 'content-type': 'application/json' }).end('{"errors":[]}');
      return;
    }
    if (wanted !== undefined) {
      if (req.headers.authorization !== wanted) {
        record(401);
        req.resume();
        res.writeHead(401, {
          'www-authenticate': 'Basic realm="sigwatch-test"',
          'content-type': 'application/json',
        });
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
        return;
      }
      delete req.headers.authorization;
    }
    const upstream = request(
      { host, port, method: req.method, path: req.url, headers: { ...req.headers, host: target } },
      (up) => {
        record(up.statusCode ?? 0);
        // Location headers point at the registry; rewrite them so follow-up
        // requests (blob uploads) also pass through the proxy.
        const headers = { ...up.headers };
        if (typeof headers.location === 'string') {
          headers.location = headers.location.replace(`//${target}`, `//${proxyAddress()}`);
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      record(502);
      res.writeHead(502).end(error.message);
    });
    req.pipe(upstream);
  };

  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const startMs = performance.now();
    const delay = options.delayMs?.(path) ?? 0;
    if (delay <= 0) handle(req, res, path, startMs);
    else
      setTimeout(() => {
        handle(req, res, path, startMs);
      }, delay);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyAddress = (): string => `127.0.0.1:${String((server.address() as AddressInfo).port)}`;

  return {
    address: proxyAddress(),
    requests,
    count(method, path) {
      return requests.filter(
        (r) =>
          r.method === method &&
          (path === undefined || (typeof path === 'string' ? r.path === path : path.test(r.path))),
      ).length;
    },
    reset() {
      requests.length = 0;
    },
    close() {
      return new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          if (err) {
            reject(err);
          } else {
            resolve();
          }
        });
      });
    },
  };
}
