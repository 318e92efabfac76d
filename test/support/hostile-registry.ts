/**
 * A small, scriptable HTTP server that plays a misbehaving registry on
 * 127.0.0.1. By default it serves one valid image manifest (HEAD and GET by
 * digest) and answers 404 MANIFEST_UNKNOWN to everything else; each test
 * overrides the routes it wants to break.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HostileRegistry {
  /** host:port */
  readonly address: string;
  readonly repository: string;
  /** Digest of the one valid image manifest. */
  readonly digest: string;
  readonly manifest: Buffer;
  /** Every request seen: method, URL and whether it carried Authorization. */
  readonly seen: { method: string; url: string; authorization: string | undefined }[];
  /** What the server does for a request no route claims: the valid image manifest, or 404. */
  serveDefault(req: IncomingMessage, res: ServerResponse): void;
  /** Routes are matched in order against `METHOD path` (query excluded); the first match handles the request. */
  route(pattern: RegExp, handler: Handler): void;
  close(): Promise<void>;
}

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': contentType, 'content-length': data.byteLength });
  res.end(data);
}

export async function startHostileRegistry(repository = 'hostile/app'): Promise<HostileRegistry> {
  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.byteLength,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(randomBytes(8)), size: 8 },
      ],
    }),
  );
  const digest = sha256(manifest);
  const routes: { pattern: RegExp; handler: Handler }[] = [];
  const seen: HostileRegistry['seen'] = [];

  const serveDefault = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === `/v2/${repository}/manifests/${digest}`) {
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'docker-content-digest': digest,
        'content-length': manifest.byteLength,
      });
      res.end(req.method === 'HEAD' ? undefined : manifest);
      return;
    }
    sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'unknown' }] });
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    const key = `${req.method ?? ''} ${path}`;
    const hit = routes.find((r) => r.pattern.test(key));
    if (hit) {
      void Promise.resolve(hit.handler(req, res)).catch(() => res.destroy());
      return;
    }
    serveDefault(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  return {
    address,
    repository,
    digest,
    manifest,
    seen,
    serveDefault,
    route(pattern, handler) {
      routes.push({ pattern, handler });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
