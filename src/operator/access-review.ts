/**
 * Who may read the inventory API (design §5): the bearer token is checked
 * by the API server (TokenReview), and the user it names must be allowed
 * `get` on the non-resource URL `/sigwatch/inventory` (SubjectAccessReview)
 * — the same RBAC an administrator already uses for `/metrics`-style URLs:
 *
 *   rules: [{nonResourceURLs: ["/sigwatch/inventory"], verbs: ["get"]}]
 *
 * Not `/api/v1/inventory`, which design §5 names: every Kubernetes cluster
 * grants `get` on `/api/*` to all authenticated users (the bootstrap
 * ClusterRole `system:discovery`), so that check would let anyone with a
 * token in. The integration test shows both.
 *
 * Answers are cached for a short while per token hash (never the token
 * itself), so a burst of queries costs two API calls, and a revoked token
 * or binding stops working within `ttlMs`. At most `maxInFlight` reviews run
 * at once and the operator gives them their own API rate limit: a flood of
 * made-up tokens gets 503s, and never delays the operator's own writes.
 */
import { createHash } from 'node:crypto';
import type { KubeHttp } from './kube-http.js';

export type Access =
  | { readonly kind: 'allowed'; readonly user: string }
  | { readonly kind: 'unauthenticated'; readonly message: string }
  | { readonly kind: 'forbidden'; readonly user: string; readonly message: string };

export const inventoryPath = '/sigwatch/inventory';

interface UserInfo {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

const maxCached = 1_000;

export class AccessReviewBusy extends Error {}

export class AccessReview {
  private readonly cache = new Map<string, { at: number; access: Access }>();
  private inFlight = 0;

  constructor(
    private readonly kube: KubeHttp,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
    private readonly maxInFlight = 16,
  ) {}

  /** @throws KubeError when the API server cannot be asked, AccessReviewBusy when too many reviews run (503, never "allowed") */
  async check(token: string): Promise<Access> {
    const id = createHash('sha256').update(token).digest('hex');
    const cached = this.cache.get(id);
    if (cached !== undefined && this.now() - cached.at < this.ttlMs) return cached.access;
    if (this.inFlight >= this.maxInFlight) throw new AccessReviewBusy('too many token reviews at once');
    this.inFlight++;
    let access: Access;
    try {
      access = await this.review(token);
    } finally {
      this.inFlight--;
    }
    if (this.cache.size >= maxCached) this.cache.clear();
    this.cache.set(id, { at: this.now(), access });
    return access;
  }

  private async review(token: string): Promise<Access> {
    const tr = (await this.kube.call({
      method: 'POST',
      path: '/apis/authentication.k8s.io/v1/tokenreviews',
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      timeoutMs: 10_000,
    })) as { status?: { authenticated?: boolean; user?: UserInfo; error?: string } };
    const user = tr.status?.user;
    if (tr.status?.authenticated !== true || user?.username === undefined)
      return { kind: 'unauthenticated', message: tr.status?.error ?? 'the token was not accepted' };
    const sar = (await this.kube.call({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          nonResourceAttributes: { path: inventoryPath, verb: 'get' },
          user: user.username,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.groups === undefined ? {} : { groups: user.groups }),
          ...(user.extra === undefined ? {} : { extra: user.extra }),
        },
      },
      timeoutMs: 10_000,
    })) as { status?: { allowed?: boolean; reason?: string } };
    if (sar.status?.allowed === true) return { kind: 'allowed', user: user.username };
    return {
      kind: 'forbidden',
      user: user.username,
      message: `${user.username} may not get ${inventoryPath}${sar.status?.reason === undefined || sar.status.reason === '' ? '' : `: ${sar.status.reason}`}`,
    };
  }
}
