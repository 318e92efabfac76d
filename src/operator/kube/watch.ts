/**
 * A list/watch cache of one resource ("reflector", design §4.6): a
 * paginated LIST, then a WATCH from its resourceVersion with bookmarks and a
 * server-side timeout, re-watched promptly when the server closes it,
 * relisted on 410 Gone (with synthetic events for what changed meanwhile),
 * and backed off on errors. Objects are trimmed on arrival: the full objects
 * are never kept.
 *
 * Built on plain HTTPS with the connection's credentials rather than
 * client-node's Watch, whose connection handling (a 30 s idle drop, no
 * bookmarks by default) this loop would have to work around anyway.
 */
import { request } from 'node:https';
import { KubeHttp } from './client.js';
import type { KubeConnection } from './connection.js';
import type { Logger } from './logger.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'SYNC';

export interface ReflectorOptions<T> {
  readonly connection: KubeConnection;
  /** Collection path, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly labelSelector?: string;
  /** Keeps what the consumer needs; undefined skips the object. */
  readonly trim: (raw: unknown) => T | undefined;
  /** Default: `namespace/name` from the raw object's metadata. */
  readonly key?: (obj: T) => string;
  readonly pageSize?: number;
  /** Server-side watch timeout; randomised ±10 % so watches do not all end at once. */
  readonly timeoutSeconds?: number;
  readonly logger: Logger;
  /** Called for every change after the first sync, and once with SYNC after each (re)list. */
  readonly onEvent?: (type: WatchEventType, key: string, obj: T | undefined, old: T | undefined) => void;
}

interface RawMeta {
  readonly name?: unknown;
  readonly namespace?: unknown;
  readonly resourceVersion?: unknown;
}

const metaOf = (raw: unknown): RawMeta | undefined => (raw as { metadata?: RawMeta } | undefined)?.metadata;

function defaultKey(raw: unknown): string | undefined {
  const m = metaOf(raw);
  if (typeof m?.name !== 'string') return undefined;
  return typeof m.namespace === 'string' && m.namespace !== '' ? `${m.namespace}/${m.name}` : m.name;
}

class Gone extends Error {}

/** Events of a relist: what the cache lacks, changed or no longer holds. */
export function relistDiff<T>(
  before: ReadonlyMap<string, T>,
  after: ReadonlyMap<string, T>,
  same: (a: T, b: T) => boolean,
): { type: 'ADDED' | 'MODIFIED' | 'DELETED'; key: string; obj: T | undefined; old: T | undefined }[] {
  const events: {
    type: 'ADDED' | 'MODIFIED' | 'DELETED';
    key: string;
    obj: T | undefined;
    old: T | undefined;
  }[] = [];
  for (const [key, obj] of after) {
    const old = before.get(key);
    if (old === undefined) events.push({ type: 'ADDED', key, obj, old: undefined });
    else if (!same(old, obj)) events.push({ type: 'MODIFIED', key, obj, old });
  }
  for (const [key, old] of before)
    if (!after.has(key)) events.push({ type: 'DELETED', key, obj: undefined, old });
  return events;
}

export class Reflector<T> {
  private cache = new Map<string, T>();
  private rv = '';
  private synced = false;
  private stopped = false;
  private readonly controller = new AbortController();
  private readonly http: KubeHttp;

  constructor(private readonly options: ReflectorOptions<T>) {
    this.http = new KubeHttp(options.connection);
  }

  /** Lists, then keeps watching in the background; resolves after the first complete list. */
  async start(): Promise<void> {
    let backoff = 200;
    for (;;) {
      try {
        await this.relist();
        break;
      } catch (error: unknown) {
        if (this.stopped) return;
        this.options.logger.warn('list failed, retrying', { path: this.options.path, error: String(error) });
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
    void this.watchLoop();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
  }

  hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  resourceVersion(): string {
    return this.rv;
  }

  private keyOf(raw: unknown, obj: T): string | undefined {
    return this.options.key === undefined ? defaultKey(raw) : this.options.key(obj);
  }

  private trim(raw: unknown): T | undefined {
    try {
      return this.options.trim(raw);
    } catch (error: unknown) {
      this.options.logger.warn('object skipped: cannot be read', {
        path: this.options.path,
        error: String(error),
      });
      return undefined;
    }
  }

  private emit(type: WatchEventType, key: string, obj: T | undefined, old: T | undefined): void {
    try {
      this.options.onEvent?.(type, key, obj, old);
    } catch (error: unknown) {
      this.options.logger.error('watch event handler failed', {
        path: this.options.path,
        error: String(error),
      });
    }
  }

  private query(extra: Record<string, string>): string {
    const q = new URLSearchParams(extra);
    if (this.options.labelSelector !== undefined) q.set('labelSelector', this.options.labelSelector);
    return `${this.options.path}?${q.toString()}`;
  }

  private async relist(): Promise<void> {
    const next = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page: Record<string, string> = { limit: String(this.options.pageSize ?? 500) };
      if (cont !== undefined) page['continue'] = cont;
      const res = await this.http.send({
        method: 'GET',
        path: this.query(page),
        signal: this.controller.signal,
      });
      if (res.status === 410) {
        // The continue token expired mid-list: start the list over.
        next.clear();
        cont = undefined;
        continue;
      }
      if (res.status !== 200) throw new Error(`LIST ${this.options.path}: ${String(res.status)}`);
      const body = res.body as {
        metadata?: { resourceVersion?: string; continue?: string };
        items?: unknown[];
      };
      for (const raw of body.items ?? []) {
        const obj = this.trim(raw);
        const key = obj === undefined ? undefined : this.keyOf(raw, obj);
        if (obj !== undefined && key !== undefined) next.set(key, obj);
      }
      rv = body.metadata?.resourceVersion ?? rv;
      cont = body.metadata?.continue === '' ? undefined : body.metadata?.continue;
    } while (cont !== undefined);
    const before = this.cache;
    this.cache = next;
    this.rv = rv;
    const same = (a: T, b: T): boolean => JSON.stringify(a) === JSON.stringify(b);
    for (const e of relistDiff(before, next, same)) this.emit(e.type, e.key, e.obj, e.old);
    this.synced = true;
    this.emit('SYNC', '', undefined, undefined);
  }

  private async watchLoop(): Promise<void> {
    let backoff = 200;
    while (!this.stopped) {
      try {
        await this.watchOnce();
        backoff = 200; // a normal close: re-watch at once
      } catch (error: unknown) {
        if (this.controller.signal.aborted) return;
        if (error instanceof Gone) {
          this.options.logger.info('watch expired, relisting', { path: this.options.path });
        } else {
          this.options.logger.warn('watch failed, retrying', {
            path: this.options.path,
            error: String(error),
          });
          await this.sleep(backoff + Math.random() * backoff);
          backoff = Math.min(backoff * 2, 30_000);
        }
        try {
          await this.relist();
        } catch (relistError: unknown) {
          this.options.logger.warn('relist failed', { path: this.options.path, error: String(relistError) });
        }
      }
    }
  }

  private async watchOnce(): Promise<void> {
    const base = this.options.timeoutSeconds ?? 290;
    const timeout = Math.max(1, Math.round(base * (0.9 + Math.random() * 0.2)));
    const path = this.query({
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion: this.rv,
      timeoutSeconds: String(timeout),
    });
    const opts: Parameters<typeof request>[1] = { method: 'GET', headers: { accept: 'application/json' } };
    await this.options.connection.authorize(opts);
    // The server ends the watch after `timeout`; a silent connection beyond that (plus slack) is dead.
    const signal = AbortSignal.any([this.controller.signal, AbortSignal.timeout((timeout + 30) * 1000)]);
    await new Promise<void>((resolve, reject) => {
      const req = request(new URL(path, this.options.connection.server), { ...opts, signal }, (res) => {
        if (res.statusCode === 410) {
          res.resume();
          reject(new Gone());
          return;
        }
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`WATCH ${this.options.path}: ${String(res.statusCode)}`));
          return;
        }
        let buffer = '';
        let failed: Error | undefined;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl);
            buffer = buffer.slice(nl + 1);
            if (line.trim() === '' || failed !== undefined) continue;
            try {
              this.handle(JSON.parse(line) as { type?: string; object?: unknown });
            } catch (error: unknown) {
              failed = error instanceof Error ? error : new Error(String(error));
              res.destroy();
            }
          }
        });
        res.on('end', () => {
          if (failed !== undefined) reject(failed);
          else resolve();
        });
        res.on('error', (error) => {
          reject(failed ?? error);
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  private handle(event: { type?: string; object?: unknown }): void {
    const raw = event.object;
    const rv = metaOf(raw)?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (typeof rv === 'string') this.rv = rv;
      return;
    }
    if (event.type === 'ERROR') {
      const code = (raw as { code?: unknown } | undefined)?.code;
      if (code === 410) throw new Gone();
      throw new Error(`watch error: ${JSON.stringify(raw)}`);
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return;
    if (typeof rv === 'string') this.rv = rv;
    const obj = this.trim(raw);
    if (obj === undefined) return;
    const key = this.keyOf(raw, obj);
    if (key === undefined) return;
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('DELETED', key, undefined, old ?? obj);
    } else {
      this.cache.set(key, obj);
      this.emit(old === undefined ? 'ADDED' : 'MODIFIED', key, obj, old);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.controller.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
