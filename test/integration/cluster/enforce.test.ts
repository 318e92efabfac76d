/**
 * Enforce on a real node (issue 22), each case with the kubelet's own
 * `imageID`: what a pod runs when its tag names a single manifest or an
 * index, `signatureOn` following from it, and verdicts that stay definite
 * when the tag moves. Sigwatch is the installed 2-replica Deployment
 * (test/support/cluster-sigwatch.ts).
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { ClusterEnv } from '../../support/cluster.js';
import {
  admissionAnswers,
  clusterKube,
  installedSigwatch,
  kubectl,
  leaderPod,
  sigwatchNamespace,
  sigwatchPods,
} from '../../support/cluster-sigwatch.js';
import {
  clusterDeploy,
  clusterNamespace,
  clusterPods,
  type ClusterPod,
} from '../../support/cluster-workloads.js';
import { sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomIndex, pushRunnableImage, randomRepo } from '../../support/images.js';
import { enforceIn, PolicyObjects, testEvictAction } from '../../support/operator-objects.js';
import { eventually } from '../../support/operator-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Marks {
  readonly pod: ClusterPod;
  readonly reasons: string;
  readonly stale: string | undefined;
}

describe('Enforce on a real node: tags that move, indexes and signatureOn', function () {
  this.timeout(300_000);
  let env: ClusterEnv;
  let key: CosignKey;
  const policies = new PolicyObjects(() => env.kc);

  /** A label-only Enforce policy (admission off: these pods must run to be judged at runtime). */
  const policy = async (ns: string, extra: Record<string, unknown> = {}): Promise<void> => {
    const spec = enforceIn(
      ns,
      [`${env.registry}/**`],
      [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      {
        actions: { label: true, evict: { enabled: false } },
        admission: { enabled: false },
        reverifyInterval: '1m',
      },
    );
    await policies.create(`enf-${ns}`, { ...spec, match: { ...(spec['match'] as object), ...extra } });
  };

  /** The one live pod of `app` with its compliance label and Sigwatch's annotations. */
  const marks = async (ns: string, app: string): Promise<Marks | undefined> => {
    const [pod, ...more] = await clusterPods(env, ns, app);
    if (pod === undefined || more.length > 0) return undefined;
    const meta = (
      (await clusterKube(env).call({ method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${pod.name}` })) as {
        metadata: { annotations?: Record<string, string> };
      }
    ).metadata;
    return {
      pod,
      reasons: meta.annotations?.['sigwatch.dev/reasons'] ?? '',
      stale: meta.annotations?.['sigwatch.dev/stale'],
    };
  };

  /** The pod of `app` once Ready and labelled `label`. */
  const judged = (ns: string, app: string, label: string, timeoutMs = 90_000): Promise<Marks> =>
    eventually(
      `${ns}/${app} labelled ${label}`,
      async () => {
        const m = await marks(ns, app);
        return m?.pod.ready === true && m.pod.label === label ? m : undefined;
      },
      timeoutMs,
    );

  before(async function () {
    this.timeout(900_000);
    ({ env, key } = await installedSigwatch());
    // The file before may have killed a replica: workloads are refused until the webhooks answer again.
    await admissionAnswers(env);
  });

  after(async () => {
    if (policies.count() > 0) await policies.deleteAll();
  });

  it('a single-platform image run by tag reports its manifest digest, and stays NonCompliant with its definite reason when the tag moves; a fresh pod of the new digest gets its own definite verdict', async () => {
    const ns = await clusterNamespace(env, 'moved');
    const repo = randomRepo('moved');
    const first = await pushRunnableImage(env.registry, repo, 'v1');
    await policy(ns);
    await clusterDeploy(env, ns, 'old', `${env.registry}/${repo}:v1`);
    const before = await judged(ns, 'old', 'noncompliant');
    // The kubelet's imageID for a tag naming a single manifest: that manifest's digest.
    expect(before.pod.imageID).to.equal(`${env.registry}/${repo}@${first.digest}`);
    expect(before.reasons).to.contain('SignatureMissing');

    // The tag moves to another unsigned image; a new Deployment pulls it (Always: the node has v1 cached).
    const second = await pushRunnableImage(env.registry, repo, 'v1');
    await clusterDeploy(env, ns, 'fresh', `${env.registry}/${repo}:v1`, { pullAlways: true });
    const fresh = await judged(ns, 'fresh', 'noncompliant', 60_000);
    expect(fresh.pod.imageID).to.equal(`${env.registry}/${repo}@${second.digest}`);
    expect(fresh.reasons).to.contain('SignatureMissing');
    expect(fresh.reasons).not.to.contain('IndexUnresolved');
    // The old pod keeps its definite verdict after the tag was re-read (the fresh pod made Sigwatch re-read it).
    for (let i = 0; i < 5; i++) {
      const now = await marks(ns, 'old');
      expect(now?.pod.label, 'old pod label').to.equal('noncompliant');
      expect(now?.reasons).to.contain('SignatureMissing');
      expect(now?.reasons).not.to.contain('IndexUnresolved');
      // Definite, not a stale verdict held over an Unknown one (the old pod was re-judged when the tag moved).
      expect(now?.stale, 'old pod stale').to.equal(undefined);
      await sleep(2_000);
    }
  });

  it('a two-platform index signed on the index: the kubelet reports the index digest; Compliant under either and index, NonCompliant under platform', async () => {
    const repo = randomRepo('index');
    const { index } = await pushRandomIndex(env.registry, repo, 'v1', true);
    await sign(index.ref, key, 'bundle');
    const expected: Record<string, string> = {
      either: 'compliant',
      index: 'compliant',
      platform: 'noncompliant',
    };
    for (const [signatureOn, label] of Object.entries(expected)) {
      const ns = await clusterNamespace(env, `on-${signatureOn}`);
      await policy(ns, { signatureOn });
      await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`);
      const m = await judged(ns, 'app', label);
      // containerd reports what the tag named when it was pulled: the index, not the platform manifest it ran.
      expect(m.pod.imageID, signatureOn).to.equal(`${env.registry}/${repo}@${index.digest}`);
      if (label === 'noncompliant') expect(m.reasons, signatureOn).to.contain('SignatureMissing');
    }
  });

  it('an operator restart repeats no violation Event: a new pod of the same owner and digest after it gets none', async () => {
    const ns = await clusterNamespace(env, 'restart');
    const repo = randomRepo('restart');
    await pushRunnableImage(env.registry, repo, 'v1');
    await policy(ns);
    await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`);
    await judged(ns, 'app', 'noncompliant');
    const violationEvents = async (): Promise<{ name: string; count: number }[]> =>
      (
        (await clusterKube(env).call({
          method: 'GET',
          path: `/api/v1/namespaces/${ns}/events?fieldSelector=reason%3DSignatureMissing`,
        })) as { items: { metadata: { name: string }; count?: number }[] }
      ).items.map((e) => ({ name: e.metadata.name, count: e.count ?? 1 }));
    const first = await eventually('the SignatureMissing Event', async () => {
      const list = await violationEvents();
      return list.length > 0 ? list : undefined;
    });
    expect(first).to.have.length(1);

    // Both replicas deleted: the Deployment's new pods elect a new leader that starts with an empty memory.
    const before = new Set((await sigwatchPods(env)).map((p) => p.name));
    await kubectl(env, [
      '-n',
      sigwatchNamespace,
      'delete',
      'pod',
      '-l',
      'app.kubernetes.io/name=sigwatch',
      '--wait=false',
    ]);
    await eventually(
      'two new Ready replicas',
      async () => {
        const now = await sigwatchPods(env);
        return now.length === 2 && now.every((p) => p.ready && !before.has(p.name)) ? true : undefined;
      },
      180_000,
    );
    const leader = await leaderPod(env, 120_000);
    expect(before.has(leader.name)).to.equal(false);
    // A second pod of the same owner and digest, judged by the new leader.
    await clusterKube(env).call({
      method: 'PATCH',
      path: `/apis/apps/v1/namespaces/${ns}/deployments/app`,
      body: { spec: { replicas: 2 } },
    });
    await eventually(
      'both pods labelled noncompliant by the new leader',
      async () => {
        const live = await clusterPods(env, ns, 'app');
        return live.length === 2 && live.every((p) => p.label === 'noncompliant') ? true : undefined;
      },
      120_000,
    );
    await sleep(5_000);
    expect(await violationEvents()).to.deep.equal(first);
  });

  describe('evictions', () => {
    /** An Enforce policy that labels and evicts (3 s NonCompliant, a short per-owner interval). */
    /** `maxNewViolationsPercent` 100: never trips (a new policy's pods are all new); the switch test sets 10. */
    const evicting = async (
      ns: string,
      name: string,
      mode: 'Audit' | 'Enforce' = 'Enforce',
      maxNewViolationsPercent = 100,
    ): Promise<void> => {
      const spec = enforceIn(
        ns,
        [`${env.registry}/**`],
        [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
        {
          mode,
          actions: {
            label: true,
            evict: testEvictAction({ perOwnerInterval: '5s', maxNewViolationsPercent }),
          },
          admission: { enabled: false },
          reverifyInterval: '1m',
        },
      );
      if (policies.names().includes(name)) await policies.replaceSpec(name, spec);
      else await policies.create(name, spec);
    };

    /** The messages of the Events of `reason` in `ns`. */
    const events = async (ns: string, reason: string): Promise<string[]> =>
      (
        (await clusterKube(env).call({
          method: 'GET',
          path: `/api/v1/namespaces/${ns}/events?fieldSelector=reason%3D${reason}`,
        })) as { items: { message?: string }[] }
      ).items.map((e) => e.message ?? '');

    const evictions = async (name: string): Promise<{ pod: string }[]> =>
      ((await policies.status(name))?.['evictions'] ?? []) as { pod: string }[];

    const condition = async (
      name: string,
      type: string,
    ): Promise<{ status: string; reason: string; message: string } | undefined> =>
      (
        ((await policies.status(name))?.['conditions'] ?? []) as {
          type: string;
          status: string;
          reason: string;
          message: string;
        }[]
      ).find((c) => c.type === type);

    it('a tag moved to a Compliant digest with IfNotPresent and the old image on the node: no eviction, an Event naming the cached digest', async () => {
      const ns = await clusterNamespace(env, 'cached');
      const repo = randomRepo('cached');
      const old = await pushRunnableImage(env.registry, repo, 'v1');
      const name = `ev-${ns}`;
      await evicting(ns, name);
      await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`);
      const before = await judged(ns, 'app', 'noncompliant');
      const fixed = await pushRunnableImage(env.registry, repo, 'v1');
      await sign(fixed.ref, key, 'bundle');
      const cause = `holds ${env.registry}/${repo}:v1 as ${old.digest} (imagePullPolicy IfNotPresent): a replacement there would run it again; pin the digest, set imagePullPolicy: Always, or remove the image from the node`;
      const event = await eventually(
        'EvictionWouldNotHelp naming the cached digest',
        async () => (await events(ns, 'EvictionWouldNotHelp')).find((m) => m.includes(cause)),
        150_000,
      );
      expect(event).to.match(
        /^ImagePolicy \S+: not evicted, because a replacement from (Deployment app|ReplicaSet app-\S+) would run a failing image again: container app: node \S+ holds/,
      );
      await sleep(10_000);
      const after = await marks(ns, 'app');
      expect(after?.pod.name, 'the same pod still runs').to.equal(before.pod.name);
      expect(await evictions(name)).to.deep.equal([]);
    });

    it('the same with imagePullPolicy Always: exactly one eviction, and the replacement runs the Compliant digest', async () => {
      const ns = await clusterNamespace(env, 'always');
      const repo = randomRepo('always');
      await pushRunnableImage(env.registry, repo, 'v1');
      const name = `ev-${ns}`;
      await evicting(ns, name);
      await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`, { pullAlways: true });
      const before = await judged(ns, 'app', 'noncompliant');
      const fixed = await pushRunnableImage(env.registry, repo, 'v1');
      await sign(fixed.ref, key, 'bundle');
      const replaced = await eventually(
        'a Compliant replacement',
        async () => {
          const m = await marks(ns, 'app');
          return m !== undefined &&
            m.pod.name !== before.pod.name &&
            m.pod.ready &&
            m.pod.label === 'compliant'
            ? m
            : undefined;
        },
        150_000,
      );
      expect(replaced.pod.imageID).to.equal(`${env.registry}/${repo}@${fixed.digest}`);
      await sleep(10_000);
      expect((await evictions(name)).map((e) => e.pod)).to.deep.equal([before.pod.name]);
    });

    it('Audit to Enforce asks for one confirmation, saying how many pods would be evicted; evicting a 2-replica Deployment never trips the breaker again', async () => {
      const ns = await clusterNamespace(env, 'switch');
      const repo = randomRepo('switch');
      await pushRunnableImage(env.registry, repo, 'v1');
      const name = `ev-${ns}`;
      await evicting(ns, name, 'Audit', 10);
      await clusterDeploy(env, ns, 'web', `${env.registry}/${repo}:v1`, { pullAlways: true, replicas: 2 });
      await eventually(
        'both judged NonCompliant in Audit',
        async () => {
          const summary = (await policies.status(name))?.['summary'] as { nonCompliant?: number } | undefined;
          return summary?.nonCompliant === 2 ? true : undefined;
        },
        120_000,
      );
      const fixed = await pushRunnableImage(env.registry, repo, 'v1');
      await sign(fixed.ref, key, 'bundle');
      await evicting(ns, name, 'Enforce', 10);
      const tripped = await eventually('EvictionsPaused', async () => {
        const c = await condition(name, 'EvictionsPaused');
        return c?.status === 'True' ? c : undefined;
      });
      expect(tripped.reason).to.equal('EvictionsSwitchedOn');
      expect(tripped.message).to.equal(
        'Evictions were switched on while 2 of 2 matched pods are NonCompliant (more than 10%): up to 2 pods would be evicted; evictions are paused until the annotation sigwatch.dev/confirm-evictions names generation 2',
      );
      await clusterKube(env).call({
        method: 'PATCH',
        path: `/apis/sigwatch.dev/v1alpha1/imagepolicies/${name}`,
        body: { metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '2' } } },
      });
      // Both pods are evicted one after the other; the breaker stays clear throughout.
      await eventually(
        'two Compliant replacements',
        async () => {
          const c = await condition(name, 'EvictionsPaused');
          expect(c?.status, `breaker: ${c?.message ?? ''}`).not.to.equal('True');
          const live = await clusterPods(env, ns, 'web');
          return live.length === 2 && live.every((p) => p.ready && p.label === 'compliant')
            ? true
            : undefined;
        },
        180_000,
      );
      expect(await evictions(name)).to.have.length(2);
    });

    it('a forced loop (the replacement runs a failing digest again) stops after one eviction with EvictionLoop and one Event', async () => {
      const ns = await clusterNamespace(env, 'loop');
      const repo = randomRepo('loop');
      await pushRunnableImage(env.registry, repo, 'v1');
      const name = `ev-${ns}`;
      await evicting(ns, name);
      await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`, { pullAlways: true });
      const first = await judged(ns, 'app', 'noncompliant');
      // The node takes no new pod for a while, so the replacement is pulled only after the tag has moved back:
      // Sigwatch evicts because the tag names a Compliant digest, and the replacement runs a failing one again.
      await kubectl(env, ['cordon', env.nodeName]);
      try {
        const fixed = await pushRunnableImage(env.registry, repo, 'v1');
        await sign(fixed.ref, key, 'bundle');
        await eventually(
          'the first eviction',
          async () => ((await evictions(name)).length === 1 ? true : undefined),
          150_000,
        );
        expect((await evictions(name)).map((e) => e.pod)).to.deep.equal([first.pod.name]);
        await pushRunnableImage(env.registry, repo, 'v1');
      } finally {
        await kubectl(env, ['uncordon', env.nodeName]);
      }
      const loop = await eventually(
        'EvictionLoop',
        async () => {
          const c = await condition(name, 'EvictionLoop');
          return c?.status === 'True' ? c : undefined;
        },
        150_000,
      );
      expect(loop.reason).to.equal('ReplacementFailedAgain');
      expect(loop.message).to.match(
        /^evictions stopped for 1 workload\(s\), whose replacements ran a failing image again: /,
      );
      const loopEvents = await eventually('the EvictionLoop Event', async () => {
        const list = await events(ns, 'EvictionLoop');
        return list.length > 0 ? list : undefined;
      });
      expect(loopEvents).to.have.length(1);
      expect(loopEvents[0]).to.contain(`(evicted at `);
      expect(loopEvents[0]).to.contain('and fails again (SignatureMissing)');
      await sleep(15_000);
      expect(await evictions(name)).to.have.length(1);
      expect(await events(ns, 'EvictionLoop')).to.have.length(1);
    });
  });
});
