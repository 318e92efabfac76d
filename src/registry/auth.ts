/**
 * Registry authentication (formats.md §2): the `WWW-Authenticate` challenge,
 * Basic, and the distribution Bearer token flow, with tokens cached per
 * (realm, service, scope) until local receive time + `expires_in` − 30 s
 * (`issued_at` is ignored: clocks are skewed).
 *
 * Basic credentials go to a token realm only over HTTPS and only on the
 * registry's own host or an allow-listed one; otherwise the token is asked
 * for anonymously, so a hostile registry cannot harvest passwords by naming
 * a realm of its choice.
 */
import type { BasicCredentials } from './credentials.js';
import { RegistryError } from './errors.js';

export interface Challenge {
  readonly scheme: 'basic' | 'bearer';
  readonly params: Readonly<Record<string, string>>;
}

/** Parses the first Basic or Bearer challenge of a WWW-Authenticate header. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*(basic|bearer)\b(.*)$/i.exec(header);
  if (m?.[1] === undefined) return undefined;
  const params: Record<string, string> = {};
  const re = /([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p = re.exec(m[2] ?? ''); p !== null; p = re.exec(m[2] ?? '')) {
    if (p[1] !== undefined) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme: m[1].toLowerCase() === 'basic' ? 'basic' : 'bearer', params };
}

export const basicHeader = (c: BasicCredentials): string =>
  `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;

interface CachedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/** Token cache; time comes from the injected clock so tests control expiry. */
export class TokenCache {
  readonly #tokens = new Map<string, CachedToken>();
  readonly #nowMs: () => number;

  constructor(nowMs: () => number) {
    this.#nowMs = nowMs;
  }

  static key(realm: string, service: string, scope: string): string {
    return `${realm}\u0000${service}\u0000${scope}`;
  }

  get(key: string): string | undefined {
    const t = this.#tokens.get(key);
    if (t === undefined) return undefined;
    if (t.expiresAtMs <= this.#nowMs()) {
      this.#tokens.delete(key);
      return undefined;
    }
    return t.token;
  }

  /** Stores a token for `expiresInSeconds` (default 60) minus 30 s of margin, counted from now. */
  set(key: string, token: string, expiresInSeconds: number | undefined): void {
    const ttl = Math.max(0, (expiresInSeconds ?? 60) - 30) * 1000;
    this.#tokens.set(key, { token, expiresAtMs: this.#nowMs() + ttl });
  }

  delete(key: string): void {
    this.#tokens.delete(key);
  }
}

/**
 * Whether Basic credentials may be sent to a token realm: HTTPS, and the
 * realm's host is the registry's host or allow-listed for it.
 */
export function mayReceiveCredentials(
  realm: URL,
  registryHost: string,
  allowedRealmHosts: readonly string[],
): boolean {
  if (realm.protocol !== 'https:') return false;
  const realmHost = realm.hostname.toLowerCase();
  const regHost = registryHost.toLowerCase().replace(/:\d+$/, '');
  return realmHost === regHost || allowedRealmHosts.map((h) => h.toLowerCase()).includes(realmHost);
}

/** Extracts the token from a token endpoint response. */
export function parseTokenResponse(body: Uint8Array): { token: string; expiresIn: number | undefined } {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch (error: unknown) {
    throw new RegistryError('ProtocolError', 'token response is not JSON', { cause: error });
  }
  if (typeof json !== 'object' || json === null) {
    throw new RegistryError('ProtocolError', 'token response is not a JSON object');
  }
  const o = json as Record<string, unknown>;
  const token =
    typeof o['token'] === 'string'
      ? o['token']
      : typeof o['access_token'] === 'string'
        ? o['access_token']
        : undefined;
  if (token === undefined || token === '') {
    throw new RegistryError('ProtocolError', 'token response has neither token nor access_token');
  }
  const expiresIn = typeof o['expires_in'] === 'number' && o['expires_in'] > 0 ? o['expires_in'] : undefined;
  return { token, expiresIn };
}
