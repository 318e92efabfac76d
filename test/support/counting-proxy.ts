/**
 * A counting HTTP proxy in front of a registry, so a test can assert exactly
 * which requests the code under test made (method + path, query excluded)
 * without trusting the code's own metrics. Listens on 127.0.0.1, a free port.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
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

/**
 * `options.basicAuth`: the proxy plays a private registry that wants these
 * Basic credentials (`user:password`), answering 401 with a Basic challenge
 * otherwise; what it forwards carries no Authorization.
 */
export async function startCountingProxy(
  target: string,
  options: { readonly basicAuth?: string } = {},
): Promise<CountingProxy> {
  const parts = target.split(':');
  const host = parts[0] ?? '127.0.0.1';
  const port = Number(parts[1]);
  const requests: RecordedRequest[] = [];
  const wanted =
    options.basicAuth === undefined
      ? undefined
      : `Basic ${Buffer.from(options.basicAuth).toString('base64')}`;

  const server: Server = createServer((req: IncomingMessage, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (wanted !== undefined) {
      if (req.headers.authorization !== wanted) {
        requests.push({ method: req.method ?? 'GET', path, status: 401 });
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
        requests.push({ method: req.method ?? 'GET', path, status: up.statusCode ?? 0 });
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
      requests.push({ method: req.method ?? 'GET', path, status: 502 });
      res.writeHead(502).end(error.message);
    });
    req.pipe(upstream);
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
