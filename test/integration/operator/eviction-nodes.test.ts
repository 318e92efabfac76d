/**
 * Evictions that depend on what a node holds, and the loop guard (issue 22),
 * with `sigwatch run` as a child process against the real API server and
 * registry. No kubelet runs here: the tests create Nodes and write their
 * `status.images` as a kubelet would, bind pods to them by `spec.nodeName`,
 * and play the ReplicaSet controller by creating replacements by hand. A pod
 * bound to a node is not removed by an eviction without a kubelet: it keeps a
 * `deletionTimestamp`, which is what those tests look for.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, kubeConnection } from '../../support/kube.js';
import { enforceIn, PolicyObjects, testEvictAction } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';
import {
  deleteNode,
  deployment,
  eventsWithReason,
  nodeWithImages,
  podExists,
  replicaPod,
} from '../../support/workloads.js';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { wouldFailAgain, wouldNotHelpMessage } from '../../../src/operator/evictions/messages.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface StoredEviction {
  pod: string;
  owner: string;
  predicted?: {
    controller: string;
    generation: number;
    images: { tagTarget?: string; nodeImage?: string }[];
  };
  loop?: { pod: string; digest: string };
}

describe('operator: evictions and the node a replacement starts on', function () {
  this.timeout(240_000);
  let key: CosignKey;
  /** `repo:v1` names a signed (Compliant) image in the registry… */
  let signed: PushedImage;
  /** …while the pods, and the nodes' cached copy of `repo:v1`, are this unsigned one. */
  let unsigned: PushedImage;
  let tag: string;
  let operator: OperatorProcess;
  const nodes: string[] = [];
  const policies = new PolicyObjects();

  const newNode = async (images: readonly (readonly string[])[]): Promise<string> => {
    const name = `sigwatch-test-${randomBytes(4).toString('hex')}`;
    nodes.push(name);
    await nodeWithImages(name, images);
    return name;
  };

  const policy = async (ns: string): Promise<string> => {
    const name = `nodes-${ns}`;
    await policies.create(
      name,
      enforceIn(
        ns,
        [`${testEnv().registry}/**`],
        [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
        {
          actions: { label: true, evict: testEvictAction({ perOwnerInterval: '1s' }) },
        },
      ),
    );
    return name;
  };

  const deleting = async (ns: string, pod: string): Promise<boolean> => {
    const meta = (await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: pod }))
      .metadata;
    return meta?.deletionTimestamp !== undefined;
  };

  const conditionOf = async (name: string, type: string): Promise<Condition | undefined> =>
    (((await policies.status(name))?.['conditions'] ?? []) as Condition[]).find((c) => c.type === type);

  const records = async (name: string): Promise<StoredEviction[]> =>
    ((await policies.status(name))?.['evictions'] ?? []) as StoredEviction[];

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    key = await generateKeyPair();
    const repo = randomRepo('evict-node');
    [signed, unsigned] = await Promise.all([
      pushRandomImage(testEnv().registry, repo, { tag: 'v1' }),
      pushRandomImage(testEnv().registry, repo),
    ]);
    await sign(signed.ref, key, 'bundle');
    tag = `${signed.repository}:v1`;
    operator = await startOperatorProcess([
      '--namespace',
      await freshNamespace('evict-node-op'),
      '--insecure-registry',
      testEnv().registry,
      '--no-leader-election',
      '--eviction-retry-interval',
      '2s',
      '--log-level',
      'debug',
    ]);
  });

  after(async () => {
    await policies.deleteAll();
    for (const n of nodes) await deleteNode(n);
    expect(await operator.stop(), operator.logs().slice(-4000)).to.equal(0);
  });

  it("does not evict when the node holds the tag's old copy (IfNotPresent), names it, and evicts once the node drops it", async () => {
    const ns = await freshNamespace('evict-cached');
    const name = await policy(ns);
    // The kubelet's names for a copy pulled by tag: `repo:tag` and `repo@digest`, in one entry.
    const node = await newNode([[tag, unsigned.ref], [`${testEnv().registry}/other/app:1`]]);
    // No imagePullPolicy in the template: the API server's default for `:v1` is IfNotPresent.
    await deployment(ns, 'cached', tag, unsigned.ref, ['cached-1'], { nodeName: node });

    const events = await eventually(
      'EvictionWouldNotHelp',
      async () => {
        const found = await eventsWithReason(ns, 'EvictionWouldNotHelp');
        return found.length > 0 ? found : undefined;
      },
      30_000,
    );
    expect(events).to.deep.equal([
      `cached-1: ${wouldNotHelpMessage(name, 'Deployment cached', 'app', wouldFailAgain.nodeAgain(node, tag, unsigned.digest, 'IfNotPresent'))}`,
    ]);
    expect(events[0]).to.contain(`holds ${tag} as ${unsigned.digest} (imagePullPolicy IfNotPresent)`);
    await sleep(5_000); // retries every 2 s meanwhile: still no eviction
    expect(await deleting(ns, 'cached-1'), 'evicted although the node runs its old copy').to.equal(false);

    // The node drops its copy (image GC, a manual rmi). Nothing touches the pod: the operator reads the
    // node again when its answer is due (30 s) and evicts.
    await nodeWithImages(node, [[`${testEnv().registry}/other/app:1`]]);
    await eventually(
      'evicted after the node dropped its copy',
      async () => ((await deleting(ns, 'cached-1')) ? true : undefined),
      60_000,
    );
    const [record] = await records(name);
    expect(record?.predicted?.images).to.deep.equal([
      { container: 'app', image: tag, tagTarget: signed.digest, nodeImage: 'absent' },
    ]);
  });

  it('evicts exactly once with imagePullPolicy Always, whatever the node holds', async () => {
    const ns = await freshNamespace('evict-always');
    const name = await policy(ns);
    const node = await newNode([[tag, unsigned.ref]]);
    await deployment(ns, 'pulled', tag, unsigned.ref, ['pulled-1'], {
      nodeName: node,
      imagePullPolicy: 'Always',
    });
    await eventually('evicted', async () => ((await deleting(ns, 'pulled-1')) ? true : undefined), 30_000);
    expect(await eventsWithReason(ns, 'EvictionWouldNotHelp')).to.deep.equal([]);
    expect((await eventsWithReason(ns, 'EvictedNonCompliant')).length).to.equal(1);
    expect((await records(name)).map((r) => r.pod)).to.deep.equal(['pulled-1']);
  });

  it('stops a loop after one eviction with a condition and one Event, and resumes after a template change', async () => {
    const ns = await freshNamespace('evict-loop');
    const name = await policy(ns);
    // Unbound pods: the registry alone predicts a Compliant replacement, and is wrong.
    const { rsUid } = await deployment(ns, 'looping', tag, unsigned.ref, ['looping-1']);
    await eventually(
      'first eviction',
      async () => ((await podExists(ns, 'looping-1')) ? undefined : true),
      30_000,
    );

    // The ReplicaSet's replacement runs the failing digest again (a node with a stale copy, say).
    await replicaPod(ns, 'looping', 'looping-2', unsigned.ref, rsUid);
    const loop = await eventually('EvictionLoop=True', async () => {
      const c = await conditionOf(name, 'EvictionLoop');
      return c?.status === 'True' ? c : undefined;
    });
    expect(loop.reason).to.equal('ReplacementFailedAgain');
    expect(loop.message).to.contain(
      `Deployment ${ns}/looping (replacement looping-2 runs ${unsigned.digest} again)`,
    );
    const [record] = await records(name);
    expect(record?.loop).to.include({ pod: 'looping-2', digest: unsigned.digest });
    expect(record?.predicted?.controller).to.equal('ReplicaSet/looping-rs');

    // Well past noncompliantFor (3 s) and perOwnerInterval (1 s), retried every 2 s: no second eviction.
    await sleep(12_000);
    expect(await podExists(ns, 'looping-2'), 'evicted again in a loop').to.equal(true);
    const loopEvents = await eventsWithReason(ns, 'EvictionLoop');
    expect(loopEvents).to.have.length(1);
    expect(loopEvents[0]).to.match(
      new RegExp(
        `^looping-2: ImagePolicy ${name}: evictions of Deployment looping stopped: this replacement of looping-1 `,
      ),
    );
    expect(await eventsWithReason(ns, 'EvictedNonCompliant')).to.have.length(1);

    // A template edit (a new generation of the ReplicaSet) lets one eviction through.
    await new KubeHttp(kubeConnection()).call({
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${ns}/replicasets/looping-rs`,
      body: { spec: { template: { metadata: { annotations: { edited: 'now' } } } } },
    });
    await eventually(
      'evicted after the template edit',
      async () => ((await podExists(ns, 'looping-2')) ? undefined : true),
      30_000,
    );
    await eventually('EvictionLoop=False', async () =>
      (await conditionOf(name, 'EvictionLoop'))?.status === 'False' ? true : undefined,
    );
  });
});
