/**
 * The aggregated API's two conversations with the API server, on their own:
 * the authorizer's SubjectAccessReviews (cache, limits, failures) and the
 * caBundle publisher (writes only what differs, only while leading, with a
 * resourceVersion precondition). The API server is a recorded script here;
 * the same code against the real one runs in the integration tests.
 */
import { expect } from 'chai';
import { CaBundlePublisher } from '../../../../src/operator/api/api-service.js';
import {
  Authorizer,
  AuthorizerBusy,
  type ResourceAttributes,
} from '../../../../src/operator/api/authorizer.js';
import type { UserInfo } from '../../../../src/operator/api/front-proxy.js';
import type { KubeHttp, KubeRequest } from '../../../../src/operator/kube/client.js';
import { createLogger } from '../../../../src/operator/kube/logger.js';

/** Answers each call with `answer(request)`; records the requests. */
function scripted(answer: (req: KubeRequest) => Promise<unknown>): { kube: KubeHttp; calls: KubeRequest[] } {
  const calls: KubeRequest[] = [];
  const kube = {
    call: (req: KubeRequest) => {
      calls.push(req);
      return answer(req);
    },
  } as unknown as KubeHttp;
  return { kube, calls };
}

const alice: UserInfo = { username: 'alice', groups: ['team-a'], extra: {} };
const list = (namespace: string): ResourceAttributes => ({
  verb: 'list',
  group: 'inventory.sigwatch.dev',
  version: 'v1alpha1',
  resource: 'imageverdicts',
  namespace,
});
const logger = createLogger('error', 'json');

describe('operator aggregated API: delegation to the API server', () => {
  describe('Authorizer', () => {
    it('asks a SubjectAccessReview with the user and attributes, and caches the answer for its TTL', async () => {
      let now = 0;
      const { kube, calls } = scripted(() => Promise.resolve({ status: { allowed: true } }));
      const authorizer = new Authorizer(kube, 10_000, () => now);
      expect(await authorizer.authorize(alice, list('a'))).to.deep.equal({ allowed: true });
      expect(calls[0]?.body).to.deep.include({ kind: 'SubjectAccessReview' });
      expect((calls[0]?.body as { spec: unknown }).spec).to.deep.equal({
        resourceAttributes: list('a'),
        user: 'alice',
        groups: ['team-a'],
        extra: {},
      });
      now = 9_999;
      await authorizer.authorize(alice, list('a'));
      expect(calls).to.have.length(1);
      now = 10_000;
      await authorizer.authorize(alice, list('a'));
      expect(calls).to.have.length(2);
      // Another namespace, another group list: other questions.
      await authorizer.authorize(alice, list('b'));
      await authorizer.authorize({ ...alice, groups: ['team-b'] }, list('a'));
      expect(calls).to.have.length(4);
    });

    it('says no with the reason, and never yes when the API server cannot be asked', async () => {
      const denied = new Authorizer(
        scripted(() => Promise.resolve({ status: { allowed: false, reason: 'no RBAC' } })).kube,
      );
      expect(await denied.authorize(alice, list('a'))).to.deep.equal({ allowed: false, reason: 'no RBAC' });
      const odd = new Authorizer(scripted(() => Promise.resolve({})).kube);
      expect((await odd.authorize(alice, list('a'))).allowed).to.equal(false);
      const down = new Authorizer(scripted(() => Promise.reject(new Error('connection refused'))).kube);
      const error = await down.authorize(alice, list('a')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).to.contain('connection refused');
    });

    it('refuses with AuthorizerBusy beyond maxInFlight reviews at once', async () => {
      const pending: (() => void)[] = [];
      const { kube } = scripted(
        () =>
          new Promise((resolve) => {
            pending.push(() => {
              resolve({ status: { allowed: true } });
            });
          }),
      );
      const authorizer = new Authorizer(kube, 10_000, Date.now, 2);
      const first = [authorizer.authorize(alice, list('a')), authorizer.authorize(alice, list('b'))];
      const third = await authorizer.authorize(alice, list('c')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(third).to.be.instanceOf(AuthorizerBusy);
      for (const release of pending) release();
      expect((await Promise.all(first)).map((d) => d.allowed)).to.deep.equal([true, true]);
    });

    it('drops its oldest answer when full, not every answer', async () => {
      const { kube, calls } = scripted(() => Promise.resolve({ status: { allowed: true } }));
      const authorizer = new Authorizer(kube, 60_000, () => 0);
      for (let i = 0; i < 4_097; i++) await authorizer.authorize(alice, list(`n${String(i)}`));
      expect(calls).to.have.length(4_097);
      await authorizer.authorize(alice, list('n4096')); // newest: still cached
      await authorizer.authorize(alice, list('n1')); // second oldest: still cached
      expect(calls).to.have.length(4_097);
      await authorizer.authorize(alice, list('n0')); // the oldest went
      expect(calls).to.have.length(4_098);
    });
  });

  describe('CaBundlePublisher', () => {
    const bundle = '-----BEGIN CERTIFICATE-----\nMINE\n-----END CERTIFICATE-----\n';
    const mine = Buffer.from(bundle).toString('base64');

    it('writes the bundle only while leading, only when it differs, with the read resourceVersion', async () => {
      let leading = false;
      let stored = 'b3RoZXI=';
      const { kube, calls } = scripted((req) => {
        if (req.method === 'GET')
          return Promise.resolve({ metadata: { resourceVersion: '42' }, spec: { caBundle: stored } });
        stored = (req.body as { spec: { caBundle: string } }).spec.caBundle;
        return Promise.resolve({});
      });
      const publisher = new CaBundlePublisher({ kube, logger, leading: () => leading, bundle: () => bundle });
      expect(await publisher.publish()).to.equal(false);
      expect(calls).to.have.length(0);
      leading = true;
      expect(await publisher.publish()).to.equal(true);
      expect(calls.map((c) => c.method)).to.deep.equal(['GET', 'PATCH']);
      expect(calls[1]?.body).to.deep.equal({ metadata: { resourceVersion: '42' }, spec: { caBundle: mine } });
      expect(calls[1]?.contentType).to.equal('application/merge-patch+json');
      // In place: read, nothing written.
      expect(await publisher.publish()).to.equal(true);
      expect(calls.map((c) => c.method)).to.deep.equal(['GET', 'PATCH', 'GET']);
      // Someone else's CA got in (a late former leader): repaired on the next check.
      stored = 'bGF0ZQ==';
      expect(await publisher.publish()).to.equal(true);
      expect(stored).to.equal(mine);
    });

    it('reports a failed read or write as not in place (a conflict included) and tries again on the next check', async () => {
      let fail = true;
      const { kube } = scripted((req) => {
        if (req.method === 'GET') return Promise.resolve({ metadata: { resourceVersion: '1' }, spec: {} });
        return fail ? Promise.reject(new Error('409 Conflict')) : Promise.resolve({});
      });
      const publisher = new CaBundlePublisher({ kube, logger, leading: () => true, bundle: () => bundle });
      expect(await publisher.publish()).to.equal(false);
      fail = false;
      expect(await publisher.publish()).to.equal(true);
    });
  });
});
