/**
 * Answers registry authentication challenges for the client (formats.md §2):
 * remembers each registry's challenge, caches Bearer tokens per (realm,
 * service, scope), fetches each token once however many requests wait for
 * it, and decides which credentials may go where — Basic credentials and
 * identity tokens only to an HTTPS realm on the registry's own host or an
 * allow-listed one, so a hostile registry cannot harvest them.
 */
import { createHash } from 'node:crypto';
import {
  basicHeader,
  mayReceiveCredentials,
  parseTokenResponse,
  TokenCache,
  type Challenge,
} from './auth.js';
import { credentialsFor, isBasic, type CredentialEntry, type RegistryCredentials } from './credentials.js';
import { RegistryError } from './errors.js';
import type { RegistryLimits } from './limits.js';
import { apiHost } from './reference.js';
import type { HttpResponse, RegistryTransport } from './transport.js';

/** A repository: where manifests, tags and referrers live. */
export interface Repository {
  readonly registry: string;
  readonly repository: string;
}

export interface AuthenticatorOptions {
  /** The credentials now (called at each authentication). */
  readonly credentials: () => readonly CredentialEntry[];
  /** Token realm hosts that may receive credentials besides the registry itself. */
  readonly allowedRealmHosts: readonly string[];
  readonly nowMs: () => number;
}

const ids = new WeakMap<RegistryCredentials, string>();

/**
 * Which credentials a cached token belongs to, without keeping the secret
 * itself in a key. Memoised per credentials object: it is asked on every
 * registry request.
 */
function credentialId(creds: RegistryCredentials | undefined): string {
  if (creds === undefined) return 'anonymous';
  let id = ids.get(creds);
  if (id === undefined) {
    const secret = isBasic(creds) ? `${creds.username}\u0000${creds.password}` : creds.identityToken;
    id = createHash('sha256').update(secret).digest('hex').slice(0, 16);
    ids.set(creds, id);
  }
  return id;
}

/** Most candidates tried for one request: a hostile or broken configuration must not multiply requests. */
export const maxCandidates = 5;

/** `items` without repeats (by `id`), the accepted one first, at most maxCandidates. */
function candidatesInOrder<T>(
  items: readonly T[],
  id: (item: T) => string,
  accepted: string | undefined,
): T[] {
  const distinct = [...new Map(items.map((item) => [id(item), item])).values()];
  const first = distinct.findIndex((item) => id(item) === accepted);
  if (first > 0) distinct.unshift(...distinct.splice(first, 1));
  return distinct.slice(0, maxCandidates);
}

export class Authenticator {
  readonly #transport: RegistryTransport;
  readonly #limits: RegistryLimits;
  readonly #credentials: () => readonly CredentialEntry[];
  readonly #allowedRealmHosts: readonly string[];
  readonly #tokens: TokenCache;
  readonly #challenges = new Map<string, Challenge>();
  /** Token fetches in flight, so parallel requests answering one challenge share one token. */
  readonly #tokenFetches = new Map<string, Promise<string>>();

  constructor(transport: RegistryTransport, limits: RegistryLimits, options: AuthenticatorOptions) {
    this.#transport = transport;
    this.#limits = limits;
    this.#credentials = options.credentials;
    this.#allowedRealmHosts = options.allowedRealmHosts;
    this.#tokens = new TokenCache(options.nowMs);
  }

  /** The Basic header / Bearer credential id that last worked per repository, when several credentials match. */
  readonly #basicAccepted = new Map<string, string>();
  readonly #bearerAccepted = new Map<string, string>();

  /** Remembers the registry's challenge, so later requests authenticate up front. */
  remember(repo: Repository, challenge: Challenge): void {
    this.#challenges.set(repo.registry, challenge);
  }

  /** The Authorization header to send before any challenge, from what earlier challenges taught. */
  cached(repo: Repository, scope: string): string | undefined {
    const challenge = this.#challenges.get(repo.registry);
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') return this.basicCandidates(repo)[0];
    const candidate = this.#bearerCandidates(repo)[0];
    const token = this.#tokens.get(
      TokenCache.key(challenge.params['realm'] ?? '', challenge.params['service'] ?? '', scope) +
        `|${credentialId(candidate)}`,
    );
    return token === undefined ? undefined : `Bearer ${token}`;
  }

  /**
   * Answers a 401 challenge: Basic credentials, or a Bearer token from the
   * realm for the first candidate credentials at or after `from` that the
   * realm accepts (one fetch per token key at a time). `next` is where to
   * continue when the registry refuses the token anyway — a realm may issue
   * a token with fewer rights for valid credentials of another team.
   * Undefined when there is nothing (more) to answer with.
   * @throws RegistryError Unauthorized | CredentialsWithheld | ProtocolError | transport errors
   */
  async answer(
    repo: Repository,
    challenge: Challenge,
    scope: string,
    signal: AbortSignal,
    from = 0,
  ): Promise<{ readonly header: string; readonly next: number; readonly candidate: string } | undefined> {
    if (challenge.scheme === 'basic') {
      const header = this.basicCandidates(repo)[from];
      return header === undefined ? undefined : { header, next: from + 1, candidate: header };
    }
    const realmText = challenge.params['realm'];
    if (realmText === undefined) {
      throw new RegistryError('ProtocolError', `${repo.registry}: Bearer challenge without realm`);
    }
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch (error: unknown) {
      throw new RegistryError('ProtocolError', `${repo.registry}: bad token realm`, { cause: error });
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') {
      throw new RegistryError('ProtocolError', `${repo.registry}: token realm scheme ${realm.protocol}`);
    }
    const service = challenge.params['service'] ?? '';
    realm.searchParams.set('service', service);
    realm.searchParams.set('scope', scope);
    const candidates = this.#bearerCandidates(repo);
    for (let i = from; i < candidates.length; i++) {
      const creds = candidates[i];
      const id = credentialId(creds);
      const key = `${TokenCache.key(realmText, service, scope)}|${id}`;
      try {
        const cached = this.#tokens.get(key);
        if (cached !== undefined) return { header: `Bearer ${cached}`, next: i + 1, candidate: id };
        let fetching = this.#tokenFetches.get(key);
        if (fetching === undefined) {
          fetching = this.#fetchTokenWith(repo, realm, key, creds, signal).finally(() =>
            this.#tokenFetches.delete(key),
          );
          this.#tokenFetches.set(key, fetching);
        }
        return { header: `Bearer ${await fetching}`, next: i + 1, candidate: id };
      } catch (error: unknown) {
        // The realm refused these credentials: try the next ones, as the kubelet does.
        const refused = error instanceof RegistryError && error.code === 'Unauthorized';
        if (!refused || i === candidates.length - 1) throw error;
      }
    }
    return undefined;
  }

  /** Credentials to try for a Bearer realm: the ones that worked last first (candidatesInOrder); anonymous when none match. */
  #bearerCandidates(repo: Repository): (RegistryCredentials | undefined)[] {
    const all = credentialsFor(this.#credentials(), repo.registry, repo.repository);
    if (all.length === 0) return [undefined];
    return candidatesInOrder(
      all,
      credentialId,
      this.#bearerAccepted.get(`${repo.registry}/${repo.repository}`),
    );
  }

  /** Remembers which credentials (by `answer().candidate`) the registry accepted for the repository. */
  accepted(repo: Repository, scheme: 'basic' | 'bearer', candidate: string): void {
    const map = scheme === 'basic' ? this.#basicAccepted : this.#bearerAccepted;
    map.set(`${repo.registry}/${repo.repository}`, candidate);
  }

  /**
   * Basic headers to try for the repository (candidatesInOrder): the one
   * that worked last, then the username/password entries most specific
   * first (identity tokens cannot answer Basic).
   */
  basicCandidates(repo: Repository): string[] {
    const all = credentialsFor(this.#credentials(), repo.registry, repo.repository)
      .filter(isBasic)
      .map((c) => basicHeader(c));
    return candidatesInOrder(all, (h) => h, this.#basicAccepted.get(`${repo.registry}/${repo.repository}`));
  }

  async #fetchTokenWith(
    repo: Repository,
    realm: URL,
    key: string,
    creds: RegistryCredentials | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    const headers: Record<string, string> = { 'user-agent': 'sigwatch' };
    const allowed = mayReceiveCredentials(realm, apiHost(repo.registry), this.#allowedRealmHosts);
    const withheld = creds !== undefined && !allowed;
    let res: HttpResponse | undefined;
    if (creds !== undefined && allowed) {
      if (isBasic(creds)) {
        headers['authorization'] = basicHeader(creds);
      } else {
        res = await this.#exchangeIdentityToken(repo, realm, creds.identityToken, signal);
      }
    }
    res ??= await this.#transport.send({
      method: 'GET',
      url: realm,
      headers,
      maxBytes: this.#limits.maxSmallBodyBytes,
      signal,
      registry: repo.registry,
    });
    if (res.status === 401 || res.status === 403) {
      if (withheld) {
        // Say why: the admin's credentials exist but were not sent, by design.
        const msg = `${repo.registry}: credentials withheld from token realm ${realm.origin} (not HTTPS on the registry's or an allowed host); anonymous token refused`;
        throw new RegistryError('CredentialsWithheld', msg, { status: res.status });
      }
      const msg = `${repo.registry}: token realm ${realm.host} refused (HTTP ${String(res.status)})`;
      throw new RegistryError('Unauthorized', msg, { status: res.status });
    }
    if (res.status !== 200) {
      const msg = `${repo.registry}: token realm ${realm.host} answered HTTP ${String(res.status)}`;
      throw new RegistryError('ProtocolError', msg, { status: res.status });
    }
    const { token, expiresIn } = parseTokenResponse(res.body);
    this.#tokens.set(key, token, expiresIn);
    return token;
  }

  /**
   * OAuth2 refresh-token grant (formats.md §2): POST the identity token to the
   * realm. A realm without the OAuth2 endpoint answers 404; the caller then
   * falls back to the plain GET flow (undefined here).
   */
  async #exchangeIdentityToken(
    repo: Repository,
    realm: URL,
    token: string,
    signal: AbortSignal,
  ): Promise<HttpResponse | undefined> {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: token,
      service: realm.searchParams.get('service') ?? '',
      scope: realm.searchParams.get('scope') ?? '',
      client_id: 'sigwatch',
    });
    const url = new URL(realm.origin + realm.pathname);
    const res = await this.#transport.send({
      method: 'POST',
      url,
      headers: { 'user-agent': 'sigwatch', 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
      maxBytes: this.#limits.maxSmallBodyBytes,
      signal,
      registry: repo.registry,
    });
    return res.status === 404 ? undefined : res;
  }
}
