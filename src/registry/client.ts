/**
 * The OCI distribution client (read-only): manifests, blobs, tags and
 * referrers, with authentication, per-registry concurrency and the bounds of
 * the transport. Every content fetch is checked against its digest.
 *
 * Results distinguish "the registry definitively has nothing here"
 * (`undefined`) from "we could not find out" (a thrown RegistryError): only
 * the former may ever support a conclusion that a signature is missing. A GET
 * is definitively empty only on the registry's own 404 `MANIFEST_UNKNOWN`; a
 * HEAD 404 has no body, so its caller must also check `answeredAsRegistry`.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { digestHex, type Digest } from '../base/digest.js';
import { parseChallenge } from './auth.js';
import { Authenticator, maxCandidates, type Repository } from './authenticator.js';
import type { CredentialEntry } from './credentials.js';
import { RegistryError } from './errors.js';
import { expectOk, nextLink, notFoundKind, sha256 } from './responses.js';
import { defaultLimits, type RegistryLimits } from './limits.js';
import {
  isManifestMediaType,
  isManifestShaped,
  manifestAccept,
  MediaTypes,
  parseManifest,
  type Descriptor,
  type Manifest,
  type Overflow,
} from './manifest.js';
import { apiHost, canonicalRegistry } from './reference.js';
import { nextPageUrl, RegistryTransport, type ExchangeObserver, type HttpResponse } from './transport.js';

export type { Repository } from './authenticator.js';
export { nextLink, sha256 } from './responses.js';

export interface RegistryClientOptions {
  readonly limits?: Partial<RegistryLimits>;
  /**
   * Registries (host[:port]) spoken to over plain HTTP; everything else is
   * HTTPS. Matched by canonical name (`LOCALHOST:5000` covers `localhost:5000/app`).
   */
  readonly plainHttpRegistries?: readonly string[];
  /**
   * Credentials, or a function returning the current ones (read at each
   * authentication: the operator's Secret and pods' pull secrets change
   * while it runs).
   */
  readonly credentials?: readonly CredentialEntry[] | (() => readonly CredentialEntry[]);
  /** Extra PEM CA certificates for registries behind a private CA (added to Node's roots). */
  readonly caCertificates?: readonly string[];
  /** Token realm hosts that may receive Basic credentials besides the registry itself. */
  readonly allowedRealmHosts?: readonly string[];
  /** Milliseconds since the epoch; injected so token expiry is testable. */
  readonly nowMs?: () => number;
  /** Told about every HTTP exchange with a registry (the operator's request metrics). */
  readonly observe?: ExchangeObserver;
}

export interface FetchedManifest {
  readonly digest: Digest;
  readonly manifest: Manifest;
  /** The exact bytes, whose sha256 is `digest`. */
  readonly raw: Uint8Array;
}

export interface ManifestHead {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

/** Referrers of a digest and where they came from. */
export interface ReferrerListing {
  readonly source: 'api' | 'fallback-tag';
  readonly descriptors: readonly Descriptor[];
  /** Entries served beyond the listing's limits and left out (the first ones, or ≥ 1 past a page or byte cap). */
  readonly omitted: number;
}

interface Request {
  readonly method: 'GET' | 'HEAD';
  readonly path: string;
  readonly accept?: string;
  readonly maxBytes: number;
}

/**
 * Plain-HTTP registries by canonical name, each with the authority to dial.
 * The canonical name drops `:443` (HTTPS's default port); over plain HTTP a
 * `host:443` still means port 443, so the port the user wrote is kept.
 * An entry that is no registry host is kept as written: it matches nothing.
 */
function plainHttpAuthorities(registries: readonly string[]): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const entry of registries) {
    const canonical = canonicalRegistry(entry);
    if (canonical === undefined) out.set(entry, entry);
    else out.set(canonical, canonical === 'docker.io' ? apiHost(canonical) : new URL(`http://${entry}`).host);
  }
  return out;
}

/** Whether a 200 body is a tag list: a JSON object with a string `name` or a `tags` array (or null). */
function isTagList(body: Uint8Array): boolean {
  try {
    const json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
    const { name, tags } = json as { name?: unknown; tags?: unknown };
    return typeof name === 'string' || tags === null || Array.isArray(tags);
  } catch {
    return false;
  }
}

/** How long a repository's 200 to the existence probe is remembered, and for how many repositories at most. */
export const repositoryMemoryMs = 60 * 60 * 1000;
export const maxRememberedRepositories = 4096;

/** Listings copy each referrer's annotations; nothing reads them there, so they are not kept. */
const withoutAnnotations = (d: Descriptor): Descriptor =>
  d.annotations === undefined
    ? d
    : {
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(d.artifactType === undefined ? {} : { artifactType: d.artifactType }),
      };

const constant =
  <T>(value: T): (() => T) =>
  () =>
    value;

export class RegistryClient {
  readonly limits: RegistryLimits;
  readonly #transport: RegistryTransport;
  /** Canonical registry name → the authority spoken to over plain HTTP. */
  readonly #plainHttp: ReadonlyMap<string, string>;
  readonly #auth: Authenticator;
  readonly #limiters = new Map<string, LimitFunction>();
  /** Registries (as configured, host[:port]) that answered as OCI registries in this process. */
  readonly #registries = new Set<string>();
  /** `registry/repository` → until when (ms) its 200 to the existence probe is believed without asking again. */
  readonly #existing = new Map<string, number>();
  readonly #nowMs: () => number;

  constructor(options: RegistryClientOptions = {}) {
    this.limits = { ...defaultLimits, ...options.limits };
    this.#transport = new RegistryTransport(this.limits, options.caCertificates, options.observe);
    this.#plainHttp = plainHttpAuthorities(options.plainHttpRegistries ?? []);
    this.#nowMs = options.nowMs ?? Date.now;
    this.#auth = new Authenticator(this.#transport, this.limits, {
      credentials:
        typeof options.credentials === 'function' ? options.credentials : constant(options.credentials ?? []),
      allowedRealmHosts: options.allowedRealmHosts ?? ['auth.docker.io'],
      nowMs: options.nowMs ?? Date.now,
    });
  }

  async close(): Promise<void> {
    await this.#transport.close();
  }

  /**
   * Whether `registry` has answered as an OCI registry in this process (a
   * manifest that parsed, or manifest-shaped content served with its digest;
   * a HEAD 200 with a manifest media type; an OCI error body): only then
   * does an empty-bodied HEAD 404 from it mean "no such manifest". A page
   * that merely hashes to its `Docker-Content-Digest` header does not count.
   */
  answeredAsRegistry(registry: string): boolean {
    return this.#registries.has(registry);
  }

  /**
   * Whether the repository exists, asked with the cheapest call that says so
   * (a one-entry tag list): `false` on a 404 (e.g. `NAME_UNKNOWN`). A
   * repository that answered with its tag list in the last
   * {@link repositoryMemoryMs} is taken to exist without asking again (at
   * most {@link maxRememberedRepositories} remembered, oldest forgotten
   * first), so a steady state of refreshes costs no extra request.
   * @throws RegistryError (ProtocolError for a 200 that is no tag list JSON)
   */
  async repositoryExists(repo: Repository, signal: AbortSignal): Promise<boolean> {
    const key = `${repo.registry}/${repo.repository}`;
    const until = this.#existing.get(key);
    if (until !== undefined && this.#nowMs() < until) return true;
    this.#existing.delete(key);
    const res = await this.#send(
      repo,
      { method: 'GET', path: 'tags/list?n=1', maxBytes: this.limits.maxSmallBodyBytes },
      signal,
    );
    if (res.status === 404) return false;
    expectOk(res, repo, 'tag list');
    if (!isTagList(res.body)) {
      throw new RegistryError(
        'ProtocolError',
        `${repo.registry}/${repo.repository}: tag list is not the registry's JSON (a login or error page?)`,
        { status: 200 },
      );
    }
    this.#existing.set(key, this.#nowMs() + repositoryMemoryMs);
    for (const oldest of this.#existing.keys()) {
      if (this.#existing.size <= maxRememberedRepositories) break;
      this.#existing.delete(oldest);
    }
    return true;
  }

  /**
   * GETs a manifest by tag or digest; `undefined` when the registry answers
   * 404 `MANIFEST_UNKNOWN` (any other 404 throws: it proves nothing).
   * By digest the body must hash to it; by tag a `Docker-Content-Digest` header must match the body.
   * Content that arrived whole, hashes to the digest asked for or claimed and
   * is shaped like a manifest (`isManifestShaped`) but is none Sigwatch reads
   * throws with `servedDigest` set; anything else unreadable (an HTML page) throws without.
   * @throws RegistryError
   */
  async getManifest(
    repo: Repository,
    reference: string,
    signal: AbortSignal,
    accept = manifestAccept,
    overflow: Overflow = 'refuse',
  ): Promise<FetchedManifest | undefined> {
    const res = await this.#send(
      repo,
      { method: 'GET', path: `manifests/${reference}`, accept, maxBytes: this.limits.maxManifestBytes },
      signal,
    );
    if (res.status === 404) {
      this.#notFound(repo, res, `manifest ${reference}`);
      return undefined;
    }
    expectOk(res, repo, `manifest ${reference}`);
    const digest = sha256(res.body);
    const claimed = res.headers['docker-content-digest'];
    if (
      reference.startsWith('sha256:') ? digest !== reference : claimed !== undefined && claimed !== digest
    ) {
      throw new RegistryError(
        'DigestMismatch',
        `${repo.registry}/${repo.repository}: manifest ${reference} hashes to ${digest}${claimed ? ` (header says ${claimed})` : ''}`,
      );
    }
    let manifest: Manifest;
    try {
      manifest = parseManifest(res.body, res.headers['content-type'], this.limits.maxLayers, overflow);
    } catch (error: unknown) {
      // A page that is no manifest at all (a proxy's login page with a Docker-Content-Digest of its own) is no
      // answer from the registry, whatever it hashes to: Unknown, and the host is not taken for a registry.
      const confirmed = reference.startsWith('sha256:') || claimed === digest;
      if (
        !confirmed ||
        !(error instanceof RegistryError) ||
        error.code !== 'ProtocolError' ||
        !isManifestShaped(res.body)
      )
        throw error;
      this.#registries.add(repo.registry);
      throw new RegistryError(
        'ProtocolError',
        `${repo.registry}/${repo.repository}:${reference}: ${error.message}`,
        {
          status: 200,
          servedDigest: digest,
          cause: error,
        },
      );
    }
    this.#registries.add(repo.registry);
    return { digest, manifest, raw: res.body };
  }

  /**
   * A GET 404 is "nothing here" only as the registry's OCI `MANIFEST_UNKNOWN`.
   * @throws RegistryError ProtocolError for any other 404
   */
  #notFound(repo: Repository, res: HttpResponse, what: string): void {
    const kind = notFoundKind(res.body);
    if (kind !== 'other') this.#registries.add(repo.registry);
    if (kind === 'manifest-unknown') return;
    throw new RegistryError(
      'ProtocolError',
      `${repo.registry}/${repo.repository}: ${what}: ${
        kind === 'name-unknown'
          ? '404 NAME_UNKNOWN (no such repository)'
          : "404 without the registry's MANIFEST_UNKNOWN error (not an answer from the registry)"
      }`,
      { status: 404 },
    );
  }

  /**
   * HEADs a manifest: the cheap existence and change check. `undefined` on
   * 404, which counts as absence only from a registry that `answeredAsRegistry`.
   * @throws RegistryError (ProtocolError when the registry sends no Docker-Content-Digest)
   */
  async headManifest(
    repo: Repository,
    reference: string,
    signal: AbortSignal,
  ): Promise<ManifestHead | undefined> {
    const res = await this.#send(
      repo,
      { method: 'HEAD', path: `manifests/${reference}`, accept: manifestAccept, maxBytes: 0 },
      signal,
    );
    if (res.status === 404) return undefined;
    expectOk(res, repo, `manifest ${reference}`);
    const digest = res.headers['docker-content-digest'];
    if (digest === undefined || !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new RegistryError(
        'ProtocolError',
        `${repo.registry}: HEAD ${reference} without a valid Docker-Content-Digest`,
      );
    }
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError('DigestMismatch', `${repo.registry}: HEAD ${reference} answered for ${digest}`);
    }
    // A page's headers may carry a digest of the page: only a manifest's media type shows a registry answered.
    if (isManifestMediaType(res.headers['content-type'])) this.#registries.add(repo.registry);
    return {
      digest: digest as Digest,
      mediaType: res.headers['content-type'] ?? '',
      size: Number(res.headers['content-length'] ?? 0),
    };
  }

  /**
   * GETs a blob and checks its digest and the descriptor's size.
   * @throws RegistryError (LimitExceeded when the descriptor or body is over `maxBytes`)
   */
  async getBlob(
    repo: Repository,
    desc: Pick<Descriptor, 'digest' | 'size'>,
    signal: AbortSignal,
    maxBytes = this.limits.maxBlobBytes,
  ): Promise<Uint8Array> {
    if (desc.size > maxBytes) {
      throw new RegistryError(
        'LimitExceeded',
        `blob ${desc.digest} is ${String(desc.size)} bytes, over ${String(maxBytes)}`,
      );
    }
    const res = await this.#send(repo, { method: 'GET', path: `blobs/${desc.digest}`, maxBytes }, signal);
    if (res.status === 404) {
      throw new RegistryError(
        'ProtocolError',
        `${repo.registry}/${repo.repository}: blob ${desc.digest} listed but not found`,
        { status: 404 },
      );
    }
    expectOk(res, repo, `blob ${desc.digest}`);
    if (sha256(res.body) !== desc.digest || res.body.byteLength !== desc.size) {
      throw new RegistryError(
        'DigestMismatch',
        `${repo.registry}/${repo.repository}: blob ${desc.digest} content does not match its descriptor`,
      );
    }
    return res.body;
  }

  /**
   * Every referrer of `digest`: the OCI 1.1 API (all pages), or, when the
   * registry does not serve it (404, 400, 406, or a non-index 200), the
   * `sha256-<hex>` fallback tag. A missing fallback tag is an empty listing.
   * A listing the registry served but over `maxReferrers` or
   * `maxReferrerPages` is a definite answer: it keeps the entries read within
   * the limits (the last ones, over the count) and says it left some out
   * (`omitted` ≥ 1). A page over `maxReferrerListingBytes` throws (Unknown). Descriptors are
   * returned without their annotations.
   * @throws RegistryError when a page did not arrive (a partial list is never returned)
   */
  async listReferrers(repo: Repository, digest: Digest, signal: AbortSignal): Promise<ReferrerListing> {
    const cap = this.limits.maxReferrerListingBytes;
    // A page over the byte cap throws (Unknown): judging it as "over the limits" would drop every entry it lists,
    // and a few pushed referrers with huge annotations (copied into the listing) would then hide a valid one.
    const first = await this.#send(
      repo,
      { method: 'GET', path: `referrers/${digest}`, accept: MediaTypes.ociIndex, maxBytes: cap },
      signal,
    );
    const isIndex = (r: HttpResponse): boolean =>
      r.headers['content-type']?.split(';')[0]?.trim() === MediaTypes.ociIndex;
    if ([400, 404, 406].includes(first.status) || (first.status === 200 && !isIndex(first))) {
      const fallback = await this.getManifest(
        repo,
        `sha256-${digestHex(digest)}`,
        signal,
        MediaTypes.ociIndex,
        'keep-last',
      );
      const index = fallback?.manifest.kind === 'index' ? fallback.manifest : undefined;
      return {
        source: 'fallback-tag',
        descriptors: (index?.manifests ?? []).map(withoutAnnotations),
        omitted: index?.omitted ?? 0,
      };
    }
    expectOk(first, repo, `referrers of ${digest}`);
    const all: Descriptor[] = [];
    let omitted = 0;
    let used = 0;
    let page: HttpResponse = first;
    for (let n = 1; ; n++) {
      used += page.body.byteLength;
      const index = parseManifest(page.body, MediaTypes.ociIndex, this.limits.maxReferrers, 'keep-last');
      if (index.kind !== 'index')
        throw new RegistryError('ProtocolError', 'referrers response is not an index');
      all.push(...index.manifests.map(withoutAnnotations));
      // A listing served in full but over the cap keeps its last entries (issue 14 finding 3).
      omitted +=
        (index.omitted ?? 0) + all.splice(0, Math.max(0, all.length - this.limits.maxReferrers)).length;
      const next = nextLink(page.headers['link']);
      if (next === undefined) break;
      if (n >= this.limits.maxReferrerPages) {
        omitted++; // served, with more pages than read: at least one more entry
        break;
      }
      page = await this.#sendUrl(
        repo,
        nextPageUrl(next, page.url, this.#url(repo, '')),
        { method: 'GET', path: '', accept: MediaTypes.ociIndex, maxBytes: cap - used },
        signal,
      );
      expectOk(page, repo, `referrers of ${digest} (page ${String(n + 1)})`);
    }
    return { source: 'api', descriptors: all, omitted };
  }

  /** Tag list (all pages, bounded like referrers). */
  async listTags(repo: Repository, signal: AbortSignal): Promise<string[]> {
    const tags: string[] = [];
    let url: URL | undefined = this.#url(repo, 'tags/list');
    for (let n = 0; url !== undefined; n++) {
      if (n >= this.limits.maxReferrerPages)
        throw new RegistryError('LimitExceeded', 'tag list spans too many pages');
      const res = await this.#sendUrl(
        repo,
        url,
        { method: 'GET', path: '', maxBytes: this.limits.maxSmallBodyBytes },
        signal,
      );
      if (res.status === 404) return [];
      expectOk(res, repo, 'tag list');
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(res.body));
      } catch (error: unknown) {
        throw new RegistryError('ProtocolError', 'tag list is not JSON', { cause: error });
      }
      const page = (body as { tags?: unknown }).tags;
      if (page !== null && page !== undefined) {
        if (!Array.isArray(page) || !page.every((t) => typeof t === 'string'))
          throw new RegistryError('ProtocolError', 'tag list is malformed');
        tags.push(...page);
      }
      const next = nextLink(res.headers['link']);
      url = next === undefined ? undefined : nextPageUrl(next, res.url, this.#url(repo, ''));
    }
    return tags;
  }

  #url(repo: Repository, path: string): URL {
    const plain = this.#plainHttp.get(repo.registry);
    const origin = plain === undefined ? `https://${apiHost(repo.registry)}` : `http://${plain}`;
    return new URL(`${origin}/v2/${repo.repository}/${path}`);
  }

  #send(repo: Repository, req: Request, signal: AbortSignal): Promise<HttpResponse> {
    return this.#sendUrl(repo, this.#url(repo, req.path), req, signal);
  }

  /** One request through the per-registry limiter, with one authentication round on 401 (one per Basic candidate). */
  async #sendUrl(repo: Repository, url: URL, req: Request, signal: AbortSignal): Promise<HttpResponse> {
    let limiter = this.#limiters.get(repo.registry);
    if (limiter === undefined) {
      limiter = pLimit(this.limits.perRegistryConcurrency);
      this.#limiters.set(repo.registry, limiter);
    }
    const run = async (): Promise<HttpResponse> => {
      const scope = `repository:${repo.repository}:pull`;
      const send = (auth: string | undefined): Promise<HttpResponse> => {
        const headers: Record<string, string> = { 'user-agent': 'sigwatch' };
        if (req.accept !== undefined) headers['accept'] = req.accept;
        if (auth !== undefined) headers['authorization'] = auth;
        return this.#transport.send({
          method: req.method,
          url,
          headers,
          maxBytes: req.maxBytes,
          signal,
          registry: repo.registry,
        });
      };
      const first = this.#auth.cached(repo, scope);
      const res = await send(first);
      if (res.status !== 401) return res;
      const challenge = parseChallenge(res.headers['www-authenticate']);
      if (challenge === undefined) return res;
      this.#auth.remember(repo, challenge);
      // Several credentials may match (pods' pull secrets): try each until the registry accepts one, as the
      // kubelet does, and remember it. A Bearer realm may issue a token with fewer rights for another
      // team's valid credentials, so acceptance is the registry's answer, not the realm's. At most maxCandidates tries.
      let last = res;
      let from = 0;
      for (let tries = 0; tries < maxCandidates; tries++) {
        const answer = await this.#auth.answer(repo, challenge, scope, signal, from);
        if (answer === undefined) return last;
        from = answer.next;
        if (answer.header === first && tries === 0) continue; // just refused
        last = await send(answer.header);
        if (last.status !== 401 && last.status !== 403) {
          this.#auth.accepted(repo, challenge.scheme, answer.candidate);
          return last;
        }
      }
      return last;
    };
    return limiter(run);
  }
}
