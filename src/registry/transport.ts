/**
 * HTTP for registries: one request with every bound of design §6 applied.
 *
 * - undici's `request`, not `fetch`: no automatic decompression (a gzip bomb
 *   stays a small body) and no automatic redirects (each hop is checked).
 * - Bodies are read into memory up to `maxBytes`; one byte more aborts.
 * - Every request runs under `signal` plus its own deadline; a deadline
 *   becomes `Unavailable`, the caller's cancellation is re-thrown as is.
 * - Redirects: at most `maxRedirects`, http(s) only, never to a link-local,
 *   loopback or private address unless the registry itself is in that class,
 *   never from https to http, and `Authorization` is dropped when the origin
 *   (scheme, host or port) changes. `Link` pagination
 *   ({@link nextPageUrl}) stays on the registry's origin.
 * - Retries (GET/HEAD only): 5xx, connection failures and 429 whose
 *   Retry-After is within `maxRetryAfterMs`, with capped backoff.
 */
import { createRequire } from 'node:module';
import { rootCertificates } from 'node:tls';
import type * as Undici from 'undici';
import { isTimeout, withDeadline } from '../base/deadline.js';
import { classifyHost, type AddressClass } from './addresses.js';
import { RegistryError } from './errors.js';
import type { RegistryLimits } from './limits.js';

/**
 * undici (about a hundred modules, some 8 MiB of memory once loaded) is
 * loaded with the first request, not with this module: an operator with
 * nothing to verify yet, and commands that never reach a registry, do
 * without it.
 */
let undiciModule: typeof Undici | undefined;
function undici(): typeof Undici {
  undiciModule ??= createRequire(import.meta.url)('undici') as typeof Undici;
  return undiciModule;
}

export interface HttpRequest {
  /** POST only for token exchanges; it is never retried. */
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly body?: string;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly maxBytes: number;
  readonly signal: AbortSignal;
  /**
   * The registry (`host[:port]`, as the caller was asked about it) this
   * exchange is for: what the observer reports, for the token realm and
   * every redirect hop too, never a host a response named.
   */
  readonly registry: string;
}

export interface HttpResponse {
  readonly status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
  /** Where the response finally came from, after redirects. */
  readonly url: URL;
}

/** Sleeps for `ms` unless `signal` aborts first (then rejects with its reason). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Parses Retry-After (delta-seconds or HTTP-date) into milliseconds from `nowMs`. */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * A URL a registry response points to (a redirect's `Location`, a `Link` to
 * the next page), resolved against `base`: http(s) only.
 * @throws RegistryError ProtocolError (not a URL) | RedirectRefused (another scheme)
 */
function resolveTarget(target: string, base: URL, what: 'redirect' | 'next-page link'): URL {
  let next: URL;
  try {
    next = new URL(target, base);
  } catch (error: unknown) {
    throw new RegistryError('ProtocolError', `${base.host}: bad ${what}`, { cause: error });
  }
  if (next.protocol !== 'https:' && next.protocol !== 'http:') {
    throw new RegistryError('RedirectRefused', `${base.host}: ${what} to scheme ${next.protocol}`);
  }
  return next;
}

/**
 * The next page a `Link: <…>; rel="next"` names, resolved against the URL of
 * the page it came with. Pages are requested with the registry's
 * `Authorization`, so on top of the redirect rules the link must stay on the
 * registry's own origin (scheme, host and port): no credentials for another
 * server, and no link-local, loopback or private address the registry is not
 * itself on. A redirect of that request is then checked like any other.
 * @throws RegistryError RedirectRefused (another origin or scheme) | ProtocolError (not a URL)
 */
export function nextPageUrl(link: string, base: URL, registry: URL): URL {
  const next = resolveTarget(link, base, 'next-page link');
  if (next.origin !== registry.origin) {
    throw new RegistryError(
      'RedirectRefused',
      `${registry.host}: next-page link to another origin (${next.origin}) refused`,
    );
  }
  return next;
}

/**
 * Told about every HTTP exchange (metrics), labelled by the registry it was
 * made for ({@link HttpRequest.registry}); `status` 0 when no response
 * arrived. Must not throw.
 */
export type ExchangeObserver = (exchange: { registry: string; status: number; seconds: number }) => void;

export class RegistryTransport {
  readonly #limits: RegistryLimits;
  readonly #agent: Undici.Agent.Options;
  #dispatcher: Undici.Dispatcher | undefined;
  readonly #observe: ExchangeObserver | undefined;

  /**
   * @param caCertificates extra PEM CA certificates trusted besides Node's
   *   bundled roots (registries behind a private CA).
   */
  constructor(limits: RegistryLimits, caCertificates: readonly string[] = [], observe?: ExchangeObserver) {
    this.#limits = limits;
    this.#observe = observe;
    this.#agent = {
      connect: {
        timeout: limits.connectTimeoutMs,
        ...(caCertificates.length > 0 ? { ca: [...rootCertificates, ...caCertificates] } : {}),
      },
      headersTimeout: limits.requestTimeoutMs,
      bodyTimeout: limits.requestTimeoutMs,
      connections: limits.perRegistryConcurrency,
    };
  }

  /** Closes pooled connections. */
  async close(): Promise<void> {
    await this.#dispatcher?.close();
  }

  /**
   * Sends one request with retries and redirects.
   * @throws RegistryError Unavailable | RateLimited | LimitExceeded | RedirectRefused | ProtocolError;
   *   the caller's abort reason when `req.signal` aborts.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const maxAttempts = req.method === 'POST' ? 1 : this.#limits.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.#followRedirects(req);
      } catch (error: unknown) {
        if (req.signal.aborted || !(error instanceof RegistryError) || error.code !== 'Unavailable')
          throw error;
        if (attempt >= maxAttempts) throw error;
        await sleep(this.#backoffMs(attempt), req.signal);
        continue;
      }
      if (res.status === 429) {
        const waitMs = parseRetryAfter(res.headers['retry-after'], Date.now()) ?? this.#backoffMs(attempt);
        if (waitMs > this.#limits.maxRetryAfterMs || attempt >= maxAttempts) {
          throw new RegistryError(
            'RateLimited',
            `${req.url.host}: 429 Too Many Requests (Retry-After ${res.headers['retry-after'] ?? 'absent'})`,
            { status: 429 },
          );
        }
        await sleep(waitMs, req.signal);
        continue;
      }
      if (res.status >= 500) {
        if (attempt >= maxAttempts) {
          throw new RegistryError(
            'Unavailable',
            `${req.url.host}: HTTP ${String(res.status)} after ${String(attempt)} attempts`,
            { status: res.status },
          );
        }
        await sleep(this.#backoffMs(attempt), req.signal);
        continue;
      }
      return res;
    }
  }

  #backoffMs(attempt: number): number {
    return Math.min(2_000, 100 * 2 ** attempt);
  }

  async #followRedirects(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    let headers: Record<string, string> = { ...req.headers };
    let originClasses: AddressClass[] | undefined;
    for (let hop = 0; ; hop++) {
      const res = await this.#once(req, url, headers);
      if (![301, 302, 303, 307, 308].includes(res.status)) return res;
      if (hop >= this.#limits.maxRedirects) {
        throw new RegistryError(
          'LimitExceeded',
          `${req.url.host}: more than ${String(this.#limits.maxRedirects)} redirects`,
        );
      }
      const location = res.headers['location'];
      if (location === undefined) {
        throw new RegistryError('ProtocolError', `${url.host}: redirect without Location`, {
          status: res.status,
        });
      }
      const next = resolveTarget(location, url, 'redirect');
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        // Credentials, and answers that decide a verdict, never travel in the clear once TLS was in use.
        throw new RegistryError(
          'RedirectRefused',
          `${req.url.host}: redirect from https to ${next.origin} refused`,
        );
      }
      originClasses ??= await classifyHost(req.url.hostname);
      const targetClasses = await classifyHost(next.hostname);
      const forbidden = targetClasses.find((c) => c !== 'public' && !originClasses?.includes(c));
      if (forbidden !== undefined) {
        throw new RegistryError(
          'RedirectRefused',
          `${req.url.host}: redirect to a ${forbidden} address (${next.host}) refused`,
        );
      }
      if (next.origin !== url.origin) {
        // Credentials belong to the registry's origin (scheme, host and port), never to a CDN or another host.
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
      }
      url = next;
    }
  }

  async #once(req: HttpRequest, url: URL, headers: Record<string, string>): Promise<HttpResponse> {
    const started = performance.now();
    let status = 0;
    try {
      const res = await this.#exchange(req, url, headers);
      status = res.status;
      return res;
    } finally {
      this.#observe?.({ registry: req.registry, status, seconds: (performance.now() - started) / 1000 });
    }
  }

  async #exchange(req: HttpRequest, url: URL, headers: Record<string, string>): Promise<HttpResponse> {
    const signal = withDeadline(req.signal, this.#limits.requestTimeoutMs);
    try {
      const { Agent, request } = undici();
      this.#dispatcher ??= new Agent(this.#agent);
      const res = await request(url, {
        method: req.method,
        headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        signal,
        dispatcher: this.#dispatcher,
      });
      const resHeaders = flattenHeaders(res.headers);
      if (req.method === 'HEAD') {
        res.body.resume();
        return { status: res.statusCode, headers: resHeaders, body: new Uint8Array(), url };
      }
      // A declared length over the cap fails before a byte is read.
      if (Number(resHeaders['content-length'] ?? 0) > req.maxBytes) {
        // Destroying emits an abort error: nobody reads this body any more, so it must not go uncaught.
        res.body.on('error', () => undefined);
        res.body.destroy();
        throw new RegistryError(
          'LimitExceeded',
          `${url.host}: Content-Length over ${String(req.maxBytes)} bytes`,
          { status: res.statusCode },
        );
      }
      const body = await readCapped(res.body, req.maxBytes, url, res.statusCode);
      return { status: res.statusCode, headers: resHeaders, body, url };
    } catch (error: unknown) {
      if (req.signal.aborted) throw req.signal.reason as Error;
      if (error instanceof RegistryError) throw error;
      const why = isTimeout(signal)
        ? `timed out after ${String(this.#limits.requestTimeoutMs)} ms`
        : 'connection failed';
      throw new RegistryError('Unavailable', `${url.host}: ${req.method} ${url.pathname}: ${why}`, {
        cause: error,
      });
    }
  }
}

async function readCapped(
  body: Undici.Dispatcher.ResponseData['body'],
  maxBytes: number,
  url: URL,
  status: number,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    total += buf.byteLength;
    if (total > maxBytes) {
      body.destroy();
      throw new RegistryError('LimitExceeded', `${url.host}: response body over ${String(maxBytes)} bytes`, {
        status,
      });
    }
    chunks.push(buf);
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}
