/**
 * Plain HTTPS requests to the API server with the connection's credentials,
 * a deadline on every call and an AbortSignal. The generated client of
 * `@kubernetes/client-node` has no per-call timeout; the operator's writes
 * (labels, status, Events, Leases) must never hang a reconcile loop.
 *
 * Writes pass a token bucket (`--kube-qps`, `--kube-burst`, design §4.5) so a
 * policy edit that re-labels 10,000 pods cannot flood the API server.
 */
import { request, type RequestOptions } from 'node:https';
import { SigwatchError } from '../../base/errors.js';
import type { KubeConnection } from './connection.js';

export type KubeErrorCode = 'KubeRequestFailed' | 'KubeTimeout';

export class KubeError extends SigwatchError<KubeErrorCode> {
  constructor(
    code: KubeErrorCode,
    message: string,
    /** HTTP status, 0 when no response arrived. */
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

export interface KubeResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query below the server URL, e.g. `/api/v1/namespaces/x/pods/y`. */
  readonly path: string;
  readonly body?: unknown;
  /** For PATCH: merge patch unless told otherwise. */
  readonly contentType?: string;
  /** Default `application/json`; e.g. a PartialObjectMetadataList when only names and labels are needed. */
  readonly accept?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Responses larger than this are refused: nothing the operator reads is that big. */
const maxResponseBytes = 64 << 20;
const defaultTimeoutMs = 30_000;

/** A token bucket: `qps` tokens per second, at most `burst` saved up. */
export class RateLimiter {
  private tokens: number;
  private last = performance.now();
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Resolves when a token is available; callers are served in order. */
  take(): Promise<void> {
    const next = this.queue.then(async () => {
      for (;;) {
        const now = performance.now();
        this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
        this.last = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        await new Promise((r) => setTimeout(r, Math.ceil(((1 - this.tokens) / this.qps) * 1000)));
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

export class KubeHttp {
  constructor(
    private readonly connection: KubeConnection,
    private readonly writeLimiter?: RateLimiter,
    /** Sent as User-Agent: the API server's audit log then names the replica that wrote. */
    private readonly userAgent = 'sigwatch',
  ) {}

  /**
   * Sends one request; resolves with any HTTP status (callers branch on 404
   * or 409), rejects with KubeError when no response arrived in time.
   */
  async send(req: KubeRequest): Promise<KubeResponse> {
    if (req.method !== 'GET' && this.writeLimiter !== undefined) await this.writeLimiter.take();
    const url = new URL(req.path, this.connection.server);
    const options: RequestOptions = {
      method: req.method,
      headers: { accept: req.accept ?? 'application/json', 'user-agent': this.userAgent },
    };
    await this.connection.authorize(options);
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string | number> = { ...(options.headers as Record<string, string>) };
    if (payload !== undefined) {
      headers['content-type'] =
        req.contentType ?? (req.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
      headers['content-length'] = payload.length;
    }
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const signal = AbortSignal.any([
      AbortSignal.timeout(timeoutMs),
      ...(req.signal === undefined ? [] : [req.signal]),
    ]);
    return new Promise<KubeResponse>((resolve, reject) => {
      // A keep-alive socket keeps the last request made on it, and so the listeners below, until its next
      // request: what they reach is let go once settled, or the last answer on each socket (a 500-pod LIST
      // page, parsed and raw) would stay in memory as long as the socket lives.
      let settle: { resolve: typeof resolve; reject: typeof reject } | undefined = { resolve, reject };
      const fail = (error: unknown): void => {
        settle?.reject(wrap(error, req, timeoutMs));
        settle = undefined;
      };
      const r = request(url, { ...options, headers, signal }, (res) => {
        let chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxResponseBytes) {
            res.destroy(
              new KubeError('KubeRequestFailed', `response to ${req.method} ${req.path} too large`, 0),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          chunks = [];
          let body: unknown = text;
          try {
            body = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            // Not JSON (a proxy's error page): keep the text for the message.
          }
          settle?.resolve({ status: res.statusCode ?? 0, body });
          settle = undefined;
        });
      });
      r.on('error', fail);
      r.end(payload);
    });
  }

  /** `send`, requiring a 2xx answer. */
  async call(req: KubeRequest): Promise<unknown> {
    return this.checked(req, await this.send(req));
  }

  /**
   * A GET of one object: its body, or undefined when it does not exist
   * (404); any other non-2xx answer throws KubeError.
   */
  async getOptional(path: string, timeoutMs?: number, signal?: AbortSignal): Promise<unknown> {
    const req: KubeRequest = {
      method: 'GET',
      path,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(signal === undefined ? {} : { signal }),
    };
    const res = await this.send(req);
    return res.status === 404 ? undefined : this.checked(req, res);
  }

  private checked(req: KubeRequest, res: KubeResponse): unknown {
    if (res.status < 200 || res.status > 299) {
      const message = (res.body as { message?: unknown } | undefined)?.message;
      throw new KubeError(
        'KubeRequestFailed',
        `${req.method} ${req.path}: ${String(res.status)} ${typeof message === 'string' ? message : ''}`.trim(),
        res.status,
      );
    }
    return res.body;
  }
}

function wrap(error: unknown, req: KubeRequest, timeoutMs: number): KubeError {
  if (error instanceof KubeError) return error;
  const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
  return timedOut
    ? new KubeError('KubeTimeout', `${req.method} ${req.path}: no answer within ${String(timeoutMs)} ms`, 0, {
        cause: error,
      })
    : new KubeError('KubeRequestFailed', `${req.method} ${req.path}: ${String(error)}`, 0, { cause: error });
}
