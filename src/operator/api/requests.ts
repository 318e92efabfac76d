/**
 * Reading a request to the aggregated API, every part of it hostile: the
 * path must be canonical and name a resource that exists, the verb follows
 * from the method as the API server derives it (so the access review asks
 * about what is answered), and a body is capped at 64 KiB and 10 seconds.
 * Each refusal is an HttpError (status-errors.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { ResourceAttributes } from './authorizer.js';
import { group, resources, version, type ResourceInfo } from './resources.js';
import { HttpError } from './status-errors.js';

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const objectName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const maxBodyBytes = 64 * 1024;

const tooLarge = (): HttpError =>
  new HttpError(413, 'RequestEntityTooLarge', `request bodies are limited to ${String(maxBodyBytes)} bytes`);

export interface Target {
  readonly info: ResourceInfo;
  readonly namespace: string;
  readonly name?: string;
}

/**
 * Refuses a path that is not canonical: `..`, `.`, `//` and escapes the URL parser resolves would
 * make the API server's audit log name another request than the one answered.
 */
export function checkCanonical(raw: string, url: URL): void {
  if (
    !raw.startsWith('/') ||
    raw.split('?')[0] !== url.pathname ||
    /\/\/|%2e|%2f|\/\.\.?(\/|$)/i.test(raw.split('?')[0] ?? '')
  )
    throw new HttpError(400, 'BadRequest', 'not a canonical path');
}

/** `/apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>]`, checked against what exists. */
export function parseTarget(path: string): Target | undefined {
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

export function verbOf(method: string, target: Target, url: URL): ResourceAttributes['verb'] {
  if (method === 'POST' && target.name === undefined) return 'create';
  if (method === 'GET' && target.name !== undefined) return 'get';
  // As the API server parses it: any value but false/0 asks for a watch.
  const watch = url.searchParams.get('watch');
  if (method === 'GET')
    return watch !== null && !['false', '0'].includes(watch.toLowerCase()) ? 'watch' : 'list';
  throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on ${target.info.name}`);
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > maxBodyBytes) {
      reject(tooLarge());
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
        reject(tooLarge());
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

/** Whether kubectl asked for a Table (`kubectl get` does; `-o yaml` does not). */
export const wantsTable = (req: IncomingMessage): boolean =>
  /(^|[;,\s])as=Table(;|,|$)/.test(req.headers.accept ?? '');
