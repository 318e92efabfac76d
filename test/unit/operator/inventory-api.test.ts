import { expect } from 'chai';
import type { Access } from '../../../src/operator/access-review.js';
import { startInventoryServer, type InventoryServer } from '../../../src/operator/inventory-api.js';
import { componentsView, imagesView, podVerdictsView } from '../../../src/operator/inventory-views.js';
import { trimPod } from '../../../src/operator/pod.js';
import type { ContainerResult } from '../../../src/operator/policy-status.js';
import { parsePackageRule } from '../../../src/sbom/query.js';
import { createLogger } from '../../../src/operator/logger.js';

const digest = `sha256:${'a'.repeat(64)}`;
const pod = trimPod({
  metadata: { namespace: 'shop', name: 'cart-1', uid: 'u' },
  spec: {
    containers: [
      { name: 'app', image: 'reg.test/cart:1' },
      { name: 'side', image: 'reg.test/side:1' },
    ],
  },
  status: {
    phase: 'Running',
    containerStatuses: [
      { name: 'app', imageID: `reg.test/cart@${digest}`, state: { running: {} } },
      { name: 'side', state: { waiting: {} } },
    ],
  },
});
if (pod === undefined) throw new Error('fixture');
const result = (policy: string, verdict: ContainerResult['verdict']): ContainerResult => ({
  policy,
  container: 'app',
  image: 'reg.test/cart:1',
  digest,
  digestKey: `reg.test/cart@${digest}`,
  verdict,
  current: verdict,
  stale: false,
  reasons: verdict === 'NonCompliant' ? ['SignatureMissing'] : [],
  message: '',
  actionable: true,
  evidenceAt: 0,
});

describe('operator inventory API', () => {
  describe('views', () => {
    it('lists images with their pods, namespaces and worst verdict per policy', () => {
      const pods = new Map([['shop/cart-1', pod]]);
      const results = new Map([['shop/cart-1', [result('a', 'Compliant'), result('b', 'NonCompliant')]]]);
      expect(imagesView(pods, results)).to.deep.equal({
        images: [
          {
            image: `reg.test/cart@${digest}`,
            references: ['reg.test/cart:1'],
            pods: 1,
            namespaces: ['shop'],
            verdicts: { a: 'Compliant', b: 'NonCompliant' },
          },
        ],
      });
    });

    it("shows a pod's containers with their status and verdicts", () => {
      const view = podVerdictsView(pod, [result('a', 'NonCompliant')]) as {
        containers: { name: string; status: string; verdicts: { verdict: string; reasons: string[] }[] }[];
      };
      expect(view.containers.map((c) => [c.name, c.status, c.verdicts.map((v) => v.verdict)])).to.deep.equal([
        ['app', 'Judged', ['NonCompliant']],
        ['side', 'Pending', []],
      ]);
    });

    it('answers components in range or not comparable, never those outside the range', () => {
      const hit = {
        namespace: 'shop',
        pod: 'cart-1',
        container: 'app',
        image: 'i',
        digestKey: 'd',
        purl: 'p',
        signed: true,
      };
      const view = componentsView([
        { ...hit, version: '2.14.1', inRange: true },
        { ...hit, pod: 'other', version: '2.17.1', inRange: false },
        { ...hit, pod: 'odd', version: 'x', inRange: 'unparseable' },
      ]) as { pods: number; matches: { pod: string }[] };
      expect(view.pods).to.equal(2);
      expect(view.matches.map((m) => m.pod)).to.deep.equal(['cart-1', 'odd']);
    });
  });

  describe('server', () => {
    let server: InventoryServer;
    let access: Access | Error = { kind: 'allowed', user: 'u' };
    let leader: true | string | undefined = true;
    const base = (): string => `http://127.0.0.1:${String(server.port)}`;
    /** `null`: no Authorization header. */
    const get = (path: string, token: string | null = 't'): Promise<Response> =>
      fetch(`${base()}${path}`, {
        redirect: 'manual',
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
      });

    before(async () => {
      server = await startInventoryServer({
        host: '127.0.0.1',
        port: 0,
        check: () => (access instanceof Error ? Promise.reject(access) : Promise.resolve(access)),
        leader: () => leader,
        source: {
          images: () => ({ images: [] }),
          components: (rule) => ({ asked: rule.purl.name }),
          podVerdicts: (ns, name) => (ns === 'shop' && name === 'cart-1' ? { pod: name } : undefined),
        },
        rule: parsePackageRule,
        logger: createLogger('error', 'json'),
      });
    });

    beforeEach(() => {
      access = { kind: 'allowed', user: 'u' };
      leader = true;
    });

    after(() => server.close());

    it('answers the three endpoints on the leader', async () => {
      expect(await (await get('/api/v1/inventory/images')).json()).to.deep.equal({ images: [] });
      const c = await get('/api/v1/inventory/components?purl=pkg:maven/org.apache.logging.log4j/log4j-core');
      expect(await c.json()).to.deep.equal({ asked: 'log4j-core' });
      expect((await get('/api/v1/verdicts/shop/cart-1')).status).to.equal(200);
      expect((await get('/api/v1/verdicts/shop/nobody')).status).to.equal(404);
      expect((await get('/api/v1/verdicts/Shop!/x')).status).to.equal(400);
      expect((await get('/elsewhere')).status).to.equal(404);
    });

    it('refuses bad input with 400 and other methods with 405', async () => {
      expect((await get('/api/v1/inventory/components')).status).to.equal(400);
      expect((await get('/api/v1/inventory/components?purl=nope')).status).to.equal(400);
      const range = await get('/api/v1/inventory/components?purl=pkg:npm/x&versions=%3C%3C%3C');
      expect(range.status).to.equal(400);
      const post = await fetch(`${base()}/api/v1/inventory/images`, {
        method: 'POST',
        headers: { authorization: 'Bearer t' },
      });
      expect(post.status).to.equal(405);
    });

    it('says 401 without a token or with a rejected one, 403 when access is denied, 503 when it cannot ask', async () => {
      expect((await get('/api/v1/inventory/images', null)).status).to.equal(401);
      access = { kind: 'unauthenticated', message: 'no' };
      expect((await get('/api/v1/inventory/images')).status).to.equal(401);
      access = { kind: 'forbidden', user: 'u', message: 'u may not' };
      expect((await get('/api/v1/inventory/images')).status).to.equal(403);
      access = new Error('apiserver down');
      expect((await get('/api/v1/inventory/images')).status, 'never a free pass').to.equal(503);
    });

    it('redirects from a follower after checking the caller, and says 503 while no leader is known', async () => {
      leader = 'http://10.0.0.7:8443';
      const res = await get('/api/v1/inventory/components?purl=pkg:npm/x');
      expect(res.status).to.equal(307);
      expect(res.headers.get('location')).to.equal(
        'http://10.0.0.7:8443/api/v1/inventory/components?purl=pkg:npm/x',
      );
      // A path that reads as another host stays on the leader.
      const sneaky = await get('//evil.test/api/v1/inventory/images');
      expect(new URL(sneaky.headers.get('location') ?? '').host).to.equal('10.0.0.7:8443');
      access = { kind: 'forbidden', user: 'u', message: 'no' };
      expect((await get('/api/v1/inventory/images')).status, 'no redirect for a refused caller').to.equal(
        403,
      );
      access = { kind: 'allowed', user: 'u' };
      leader = undefined;
      expect((await get('/api/v1/inventory/images')).status).to.equal(503);
    });
  });
});
