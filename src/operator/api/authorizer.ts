/**
 * May this user do this? Delegated authorization: the API server answers a
 * SubjectAccessReview with the cluster's own RBAC (or whatever authorizers
 * it runs), so `kubectl get imageverdicts -n team-a` is decided by ordinary
 * Roles on `inventory.sigwatch.dev` resources — the operator keeps no
 * access rules of its own.
 *
 * Decisions are cached briefly per user and attributes (a revoked binding
 * stops working within `ttlMs`), at most `maxInFlight` reviews run at once
 * (more: AuthorizerBusy, a 429, never "allowed"), and an API server that
 * cannot be asked means an error, never a free pass.
 */
import { createHash } from 'node:crypto';
import type { KubeHttp } from '../kube/client.js';
import type { UserInfo } from './front-proxy.js';

export interface ResourceAttributes {
  readonly verb: 'get' | 'list' | 'watch' | 'create';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  /** Empty: cluster-wide (all namespaces for a namespaced resource). */
  readonly namespace: string;
  readonly name?: string;
}

export type Decision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

export class AuthorizerBusy extends Error {}

const maxCached = 4_096;

export class Authorizer {
  private readonly cache = new Map<string, { at: number; decision: Decision }>();
  private inFlight = 0;

  constructor(
    private readonly kube: KubeHttp,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
    private readonly maxInFlight = 32,
  ) {}

  /** @throws KubeError when the API server cannot be asked, AuthorizerBusy when too many reviews run */
  async authorize(user: UserInfo, attributes: ResourceAttributes): Promise<Decision> {
    const id = createHash('sha256')
      .update(JSON.stringify([user, attributes]))
      .digest('hex');
    const cached = this.cache.get(id);
    if (cached !== undefined && this.now() - cached.at < this.ttlMs) return cached.decision;
    if (this.inFlight >= this.maxInFlight) throw new AuthorizerBusy('too many access reviews at once');
    this.inFlight++;
    let decision: Decision;
    try {
      decision = await this.review(user, attributes);
    } finally {
      this.inFlight--;
    }
    // The oldest entry goes (a Map keeps insertion order): a burst of new questions never empties the
    // cache for everyone else.
    if (this.cache.size >= maxCached) this.cache.delete(this.cache.keys().next().value ?? '');
    this.cache.delete(id);
    this.cache.set(id, { at: this.now(), decision });
    return decision;
  }

  private async review(user: UserInfo, attributes: ResourceAttributes): Promise<Decision> {
    const sar = (await this.kube.call({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          resourceAttributes: attributes,
          user: user.username,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          groups: user.groups,
          extra: user.extra,
        },
      },
      timeoutMs: 10_000,
    })) as { status?: { allowed?: boolean; reason?: string } };
    if (sar.status?.allowed === true) return { allowed: true };
    return { allowed: false, reason: sar.status?.reason ?? '' };
  }
}
