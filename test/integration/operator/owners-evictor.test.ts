/**
 * The API-facing pieces of evictions (issues 7 and 22), on the real API
 * server: the owner lookup (a ReplicaSet's replacements follow its
 * Deployment's template; readiness from each kind's status), the node
 * lookup (what a node holds, read with GET and cached), and the Eviction API
 * call (a PodDisruptionBudget's refusal is reported, never forced).
 */
import { PolicyV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { evictPod } from '../../../src/operator/evictions/evictor.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { OwnerLookup, templateVersion } from '../../../src/operator/evictions/owners.js';
import { NodeImages } from '../../../src/operator/evictions/node-images.js';
import { createLogger } from '../../../src/operator/kube/logger.js';
import { deleteNode, nodeWithImages } from '../../support/workloads.js';
import { freshNamespace, kubeConfig, setPdbStatus, setRunning, kubeConnection } from '../../support/kube.js';

const labels = { app: 'shop' };
const randomSuffix = (): string => Math.random().toString(16).slice(2, 10);
/** Waits (at most 10 s) for something a background read does. */
async function until(done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 10_000; !done();) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const template = (image: string): object => ({
  metadata: { labels },
  spec: {
    containers: [{ name: 'app', image }],
    initContainers: [{ name: 'init', image: 'example.test/init:1' }],
  },
});

describe('operator: owners and the Eviction API', function () {
  this.timeout(60_000);
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  const post = (path: string, body: object): Promise<unknown> => kube().call({ method: 'POST', path, body });
  const patchStatus = (path: string, status: object): Promise<unknown> =>
    kube().call({ method: 'PATCH', path: `${path}/status`, body: { status } });

  it("resolves a ReplicaSet's pod to its Deployment's readiness and its own template (the ReplicaSet recreates it)", async () => {
    const ns = await freshNamespace('owners');
    const apps = `/apis/apps/v1/namespaces/${ns}`;
    const deployment = (await post(`${apps}/deployments`, {
      metadata: { name: 'shop' },
      spec: {
        replicas: 3,
        selector: { matchLabels: labels },
        template: template('example.test/shop@sha256:' + 'b'.repeat(64)),
      },
    })) as { metadata: { uid: string } };
    await post(`${apps}/replicasets`, {
      metadata: {
        name: 'shop-old',
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: 'shop',
            uid: deployment.metadata.uid,
            controller: true,
          },
        ],
      },
      spec: { replicas: 3, selector: { matchLabels: labels }, template: template('example.test/shop:1.0') },
    });
    const lookup = new OwnerLookup(kube(), 0);

    await patchStatus(`${apps}/deployments/shop`, { replicas: 3, readyReplicas: 2, unavailableReplicas: 1 });
    const notReady = await lookup.resolve(ns, { kind: 'ReplicaSet', name: 'shop-old' });
    expect(notReady?.kind).to.equal('Deployment');
    expect(notReady?.name).to.equal('shop');
    expect(notReady?.ready).to.equal(false);
    expect(Object.fromEntries(notReady?.templateImages ?? [])).to.deep.equal({
      init: 'example.test/init:1',
      app: 'example.test/shop:1.0',
    });
    // The API server defaults the pull policy in a template; `generation` is the template's version (its hash).
    expect(notReady?.templatePullPolicies.get('app')).to.equal('IfNotPresent');
    const stored = await kube().call({ method: 'GET', path: `${apps}/replicasets/shop-old` });
    const version = templateVersion(stored);
    expect(version).to.be.greaterThan(1);
    expect(notReady?.template).to.deep.equal({ controller: 'ReplicaSet/shop-old', generation: version });
    expect(await lookup.templateState(ns, 'ReplicaSet/shop-old')).to.deep.equal({
      generation: version,
      replicas: 3,
    });
    // A scale moves metadata.generation, not the template's version: a loop is never released by a scale.
    await kube().call({
      method: 'PATCH',
      path: `${apps}/replicasets/shop-old`,
      body: { spec: { replicas: 4 } },
    });
    expect((await lookup.templateState(ns, 'ReplicaSet/shop-old'))?.generation).to.equal(version);
    expect(await lookup.templateState(ns, 'ReplicaSet/gone')).to.equal(undefined);

    await patchStatus(`${apps}/deployments/shop`, { replicas: 3, readyReplicas: 3, unavailableReplicas: 0 });
    expect((await lookup.resolve(ns, { kind: 'ReplicaSet', name: 'shop-old' }))?.ready).to.equal(true);
  });

  it('reads StatefulSets and DaemonSets by their own status, and knows nothing of gone owners or unknown kinds', async () => {
    const ns = await freshNamespace('owners');
    const apps = `/apis/apps/v1/namespaces/${ns}`;
    await post(`${apps}/statefulsets`, {
      metadata: { name: 'db' },
      spec: {
        replicas: 2,
        serviceName: 'db',
        selector: { matchLabels: labels },
        template: template('example.test/db:1'),
      },
    });
    await patchStatus(`${apps}/statefulsets/db`, { replicas: 2, readyReplicas: 2 });
    await post(`${apps}/daemonsets`, {
      metadata: { name: 'agent' },
      spec: { selector: { matchLabels: labels }, template: template('example.test/agent:1') },
    });
    await patchStatus(`${apps}/daemonsets/agent`, {
      desiredNumberScheduled: 4,
      numberReady: 3,
      currentNumberScheduled: 4,
      numberMisscheduled: 0,
    });
    const lookup = new OwnerLookup(kube(), 0);
    expect((await lookup.resolve(ns, { kind: 'StatefulSet', name: 'db' }))?.ready).to.equal(true);
    const agent = await lookup.resolve(ns, { kind: 'DaemonSet', name: 'agent' });
    expect(agent?.ready).to.equal(false);
    expect(agent?.templateImages.get('app')).to.equal('example.test/agent:1');
    expect(await lookup.resolve(ns, { kind: 'ReplicaSet', name: 'gone' })).to.equal(undefined);
    expect(await lookup.resolve(ns, { kind: 'Rollout', name: 'x' })).to.equal(undefined);
  });

  it("reads a node's images once per TTL and names the pods that waited; a missing node is unresolved", async () => {
    const node = `sigwatch-lookup-${randomSuffix()}`;
    await nodeWithImages(node, [['reg.test/app:v1', `reg.test/app@sha256:${'a'.repeat(64)}`]]);
    try {
      let now = 1_000_000;
      const woken: string[] = [];
      const images = new NodeImages({
        kube: kube(),
        logger: createLogger('error'),
        active: () => true,
        onResolved: (keys) => woken.push(...keys),
        ttlMs: 30_000,
        now: () => now,
      });
      expect(images.imagesOf(node, 'ns/a')).to.equal('pending');
      expect(images.dueAt(node), 'no due time while a read runs').to.equal(undefined);
      await until(() => woken.length > 0);
      expect(woken).to.deep.equal(['ns/a']);
      const first = images.imagesOf(node, 'ns/b');
      expect(typeof first === 'string' ? first : Object.fromEntries(first.tags)).to.deep.equal({
        'reg.test/app:v1': [`sha256:${'a'.repeat(64)}`],
      });
      expect(images.dueAt(node)).to.equal(1_030_000);

      await nodeWithImages(node, []);
      now += 29_000;
      expect(images.imagesOf(node, 'ns/b'), 'the answer holds for its TTL').to.equal(first);
      now += 1_000;
      expect(images.imagesOf(node, 'ns/b'), 'the last answer is served while it is read again').to.equal(
        first,
      );
      await until(() => woken.length > 1);
      const second = images.imagesOf(node, 'ns/b');
      expect(typeof second === 'string' ? second : second.tags.size).to.equal(0);

      expect(images.imagesOf('sigwatch-no-such-node', 'ns/c')).to.equal('pending');
      await until(() => woken.includes('ns/c'));
      expect(images.imagesOf('sigwatch-no-such-node', 'ns/c')).to.equal('unresolved');
      images.stop();
    } finally {
      await deleteNode(node);
    }
  });

  it('evicts only when the PodDisruptionBudget allows it; a refusal is reported, never forced', async () => {
    const ns = await freshNamespace('evict');
    await post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: 'victim', labels },
      spec: { containers: [{ name: 'app', image: 'example.test/app:1' }] },
    });
    // A Pending pod is evicted without consulting PDBs: make it Running first.
    await setRunning(ns, 'victim', [
      { name: 'app', image: 'example.test/app:1', imageID: `example.test/app@sha256:${'0'.repeat(64)}` },
    ]);
    await kubeConfig()
      .makeApiClient(PolicyV1Api)
      .createNamespacedPodDisruptionBudget({
        namespace: ns,
        body: { metadata: { name: 'pdb' }, spec: { minAvailable: 1, selector: { matchLabels: labels } } },
      });
    await setPdbStatus(ns, 'pdb', {
      currentHealthy: 1,
      desiredHealthy: 1,
      disruptionsAllowed: 0,
      expectedPods: 1,
    });
    const pod = { namespace: ns, name: 'victim' };

    const refused = await evictPod(kube(), pod);
    expect(refused.kind).to.equal('refused');
    // Still there: nothing was forced.
    expect(
      (await kube().send({ method: 'GET', path: `/api/v1/namespaces/${ns}/pods/victim` })).status,
    ).to.equal(200);

    await setPdbStatus(ns, 'pdb', {
      currentHealthy: 2,
      desiredHealthy: 1,
      disruptionsAllowed: 1,
      expectedPods: 2,
    });
    expect(await evictPod(kube(), pod)).to.deep.equal({ kind: 'evicted' });
    expect(await evictPod(kube(), pod)).to.deep.equal({ kind: 'gone' });
  });
});
