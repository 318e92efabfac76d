/**
 * Evictions end to end (issue 7, design §6): `sigwatch run` as a child
 * process, the real API server's Eviction API (PodDisruptionBudgets
 * included), images in the real registry signed by the real cosign. No
 * controllers run here, so the tests build Deployments, ReplicaSets, Jobs
 * and their pods by hand (test/support/workloads.ts); an evicted pod, never
 * bound to a node, is deleted at once, which is what the tests look for.
 */
import { readFile } from 'node:fs/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, setPdbStatus, kubeConnection } from '../../support/kube.js';
import {
  enforceIn,
  PolicyObjects,
  podMarks,
  runningPod,
  testEvictAction,
} from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';
import {
  debugContainer,
  deployment,
  eventsWithReason,
  jobPod,
  pdb,
  podExists,
} from '../../support/workloads.js';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Evict {
  noncompliantFor?: string;
  maxPerHour?: number;
  perOwnerInterval?: string;
  includeKinds?: string[];
  maxNewViolationsPercent?: number;
}

describe('operator: evictions', function () {
  this.timeout(240_000);
  let key: CosignKey;
  let otherKey: CosignKey;
  let signed: PushedImage;
  let unsigned: PushedImage;
  /** Signed, tagged `v2`: a template naming the tag gets a Compliant digest. */
  let fixedTag: string;
  const policies = new PolicyObjects();

  const authority = async (k: CosignKey): Promise<Record<string, unknown>> => ({
    name: 'release',
    key: { publicKey: await readFile(k.pub, 'utf8') },
  });

  const spec = async (
    ns: string,
    evict: Evict,
    k: CosignKey = key,
    images: readonly string[] = [`${testEnv().registry}/**`],
  ): Promise<Record<string, unknown>> =>
    enforceIn(ns, images, [await authority(k)], {
      actions: { label: true, evict: testEvictAction({ ...evict }) },
    });

  const gone = (ns: string, pod: string, timeoutMs = 30_000): Promise<true> =>
    eventually(
      `${ns}/${pod} evicted`,
      async () => ((await podExists(ns, pod)) ? undefined : true),
      timeoutMs,
    );

  const label = async (ns: string, pod: string): Promise<string | undefined> =>
    (await podMarks(ns, pod)).label;

  const operatorArgs = (operatorNs: string, extra: readonly string[] = []): string[] => [
    '--namespace',
    operatorNs,
    '--insecure-registry',
    testEnv().registry,
    '--insecure-registry',
    '127.0.0.1:1',
    '--no-leader-election',
    '--eviction-retry-interval',
    '2s',
    '--log-level',
    'debug',
    ...extra,
  ];

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const repo = randomRepo('evict');
    let fixed: PushedImage;
    [signed, unsigned, fixed] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/signed`),
      pushRandomImage(testEnv().registry, `${repo}/unsigned`),
      pushRandomImage(testEnv().registry, `${repo}/fixed`, { tag: 'v2' }),
    ]);
    await Promise.all([sign(signed.ref, key, 'bundle'), sign(fixed.ref, key, 'bundle')]);
    fixedTag = `${fixed.repository}:v2`;
  });

  after(() => policies.deleteAll());

  describe('with one operator', () => {
    let operator: OperatorProcess;
    /** The registry under a second address, behind a relay a test cuts. */
    let relay: TcpRelay;

    before(async () => {
      relay = await startTcpRelay(testEnv().registry);
      operator = await startOperatorProcess(
        operatorArgs(await freshNamespace('evict-op'), ['--insecure-registry', relay.address]),
      );
    });

    after(async () => {
      await policies.deleteAll();
      await relay.close();
      expect(await operator.stop(), operator.logs().slice(-4000)).to.equal(0);
    });

    it('evicts only when the replacement runs another digest, at most once per owner per perOwnerInterval', async () => {
      const ns = await freshNamespace('evict-owner');
      await policies.create(`owner-${ns}`, await spec(ns, { perOwnerInterval: '20s' }));
      // Same digest in the template: evicting would bring the same failing image back.
      await deployment(ns, 'same', unsigned.ref, unsigned.ref, ['same-1']);
      // The template pins a Compliant digest now: two pods of one owner, one eviction per interval.
      await deployment(ns, 'pinned', signed.ref, unsigned.ref, ['pinned-1', 'pinned-2']);
      // The template's tag resolves to a Compliant digest.
      await deployment(ns, 'tagged', fixedTag, unsigned.ref, ['tagged-1']);

      const notHelping = await eventually('EvictionWouldNotHelp', async () => {
        const events = await eventsWithReason(ns, 'EvictionWouldNotHelp');
        return events.length > 0 ? events : undefined;
      });
      expect(notHelping.join('\n')).to.match(/^same-1: /);
      await gone(ns, 'tagged-1');
      const first = await eventually('one pinned pod evicted', async () => {
        const [a, b] = await Promise.all([podExists(ns, 'pinned-1'), podExists(ns, 'pinned-2')]);
        if (a && b) return undefined;
        expect(a || b, 'both pods of one owner evicted at once').to.equal(true);
        return a ? 'pinned-2' : 'pinned-1';
      });
      const firstAt = Date.now();
      const second = first === 'pinned-1' ? 'pinned-2' : 'pinned-1';
      // Well inside the 20 s interval, the other pod of the owner is still there…
      await sleep(12_000);
      expect(await podExists(ns, second), 'second eviction within perOwnerInterval').to.equal(true);
      // …and goes once the interval is over.
      await gone(ns, second, 30_000);
      expect(Date.now() - firstAt).to.be.greaterThan(18_000);
      expect(await podExists(ns, 'same-1'), 'the pod whose replacement would not help').to.equal(true);
      expect(await label(ns, 'same-1')).to.equal('noncompliant');

      const status = await policies.status(`owner-${ns}`);
      const records = status?.['evictions'] as { pod: string; owner: string }[];
      expect(records.map((r) => `${r.pod} ${r.owner}`).sort()).to.deep.equal([
        'pinned-1 Deployment/pinned',
        'pinned-2 Deployment/pinned',
        'tagged-1 Deployment/tagged',
      ]);
      const metrics = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
      expect(metrics).to.match(
        new RegExp(`sigwatch_evictions_total\\{policy="owner-${ns}",namespace="${ns}"\\} 3`),
      );
    });

    it('retries a PodDisruptionBudget refusal later and never forces it', async () => {
      const ns = await freshNamespace('evict-pdb');
      await pdb(ns, 'guard', 'guarded');
      await setPdbStatus(ns, 'guard', {
        disruptionsAllowed: 0,
        currentHealthy: 1,
        desiredHealthy: 1,
        expectedPods: 1,
      });
      await deployment(ns, 'guarded', signed.ref, unsigned.ref, ['guarded-1']);
      await policies.create(`pdb-${ns}`, await spec(ns, {}));
      await eventually('EvictionRefused', async () => {
        const events = await eventsWithReason(ns, 'EvictionRefused');
        return events.length > 0 ? events : undefined;
      });
      // Several retries (every 2 s here) meet the same refusal; the pod stays.
      await sleep(6_000);
      expect(await podExists(ns, 'guarded-1')).to.equal(true);
      // A refused eviction is not counted. Each attempt writes its record ahead (so a crash after an
      // eviction still counts it) and takes it back on the refusal: a sample can fall between the
      // two, so the test waits for a moment without one — a count that stayed would never clear.
      await eventually('no eviction record left by the refusals', async () => {
        const records = (await policies.status(`pdb-${ns}`))?.['evictions'];
        return Array.isArray(records) && records.length === 0 ? true : undefined;
      });
      expect(await eventsWithReason(ns, 'EvictedNonCompliant'), 'no eviction happened').to.deep.equal([]);
      await setPdbStatus(ns, 'guard', {
        disruptionsAllowed: 1,
        currentHealthy: 2,
        desiredHealthy: 1,
        expectedPods: 2,
      });
      await gone(ns, 'guarded-1');
    });

    it('only labels bare and Job pods unless includeKinds names them; an unsigned debug container never evicts', async () => {
      const ns = await freshNamespace('evict-kinds');
      const name = `kinds-${ns}`;
      await policies.create(name, await spec(ns, {}));
      await runningPod(ns, 'bare', unsigned.ref);
      await jobPod(ns, 'batch', signed.ref, unsigned.ref);
      // A compliant bare pod someone debugs with an unsigned image.
      await runningPod(ns, 'debugged', signed.ref);
      await debugContainer(ns, 'debugged', signed.ref, unsigned.ref);
      await eventually('labels', async () =>
        (await label(ns, 'bare')) === 'noncompliant' && (await label(ns, 'batch-pod')) === 'noncompliant'
          ? true
          : undefined,
      );
      await sleep(8_000); // well past noncompliantFor (3 s)
      expect(await Promise.all(['bare', 'batch-pod', 'debugged'].map((p) => podExists(ns, p)))).to.deep.equal(
        [true, true, true],
      );

      await policies.replaceSpec(name, await spec(ns, { includeKinds: ['None', 'Job'] }));
      await Promise.all([gone(ns, 'bare'), gone(ns, 'batch-pod')]);
      await sleep(5_000);
      expect(await podExists(ns, 'debugged'), 'evicted for its ephemeral container').to.equal(true);
      expect(await label(ns, 'debugged')).to.equal('compliant');
    });

    it('pauses evictions when one policy edit turns too many pods NonCompliant, until the generation is confirmed', async () => {
      const ns = await freshNamespace('evict-breaker');
      const name = `breaker-${ns}`;
      const pods = Array.from({ length: 6 }, (_, i) => `p${String(i)}`);
      await policies.create(name, await spec(ns, { includeKinds: ['None'], maxNewViolationsPercent: 50 }));
      for (const p of pods) await runningPod(ns, p, signed.ref);
      await eventually('all compliant', async () =>
        (await Promise.all(pods.map((p) => label(ns, p)))).every((l) => l === 'compliant') ? true : undefined,
      );
      // A wrong key: every pod NonCompliant at once — more like a mistake than six bad pods.
      await policies.replaceSpec(
        name,
        await spec(ns, { includeKinds: ['None'], maxNewViolationsPercent: 50 }, otherKey),
      );
      const paused = await eventually('EvictionsPaused', async () => {
        const conditions = ((await policies.status(name))?.['conditions'] ?? []) as {
          type: string;
          status: string;
          message: string;
        }[];
        return conditions.find((c) => c.type === 'EvictionsPaused' && c.status === 'True');
      });
      expect(paused.message).to.contain('6 of 6 matched pods');
      await sleep(8_000);
      expect(
        (await Promise.all(pods.map((p) => podExists(ns, p)))).every(Boolean),
        'evicted while paused',
      ).to.equal(true);
      const metrics = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
      expect(metrics).to.contain(`sigwatch_evictions_paused{policy="${name}"} 1`);

      const path = `/apis/sigwatch.dev/v1alpha1/imagepolicies/${name}`;
      const kube = new KubeHttp(kubeConnection());
      const current = (await kube.call({ method: 'GET', path })) as { metadata: { generation: number } };
      await kube.call({
        method: 'PATCH',
        path,
        body: {
          metadata: {
            annotations: { 'sigwatch.dev/confirm-evictions': String(current.metadata.generation) },
          },
        },
      });
      for (const p of pods) await gone(ns, p);
    });

    it('does not evict while the registry is down, also when it goes down just before noncompliantFor ends', async () => {
      const ns = await freshNamespace('evict-outage');
      try {
        const behindRelay = unsigned.ref.replace(testEnv().registry, relay.address);
        await policies.create(
          `outage-${ns}`,
          await spec(ns, { includeKinds: ['None'], noncompliantFor: '12s' }, key, [
            `${relay.address}/**`,
            '127.0.0.1:1/**',
          ]),
        );
        await runningPod(ns, 'flaky', behindRelay);
        // Registry down for the whole test: never a definite verdict, never a clock, never an eviction.
        await runningPod(ns, 'unreachable', `127.0.0.1:1/evict/app@${unsigned.digest}`);
        const since = await eventually('noncompliant-since', async () => {
          const meta = (
            await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: 'flaky' })
          ).metadata;
          return meta?.annotations?.['sigwatch.dev/noncompliant-since'];
        });
        const annotations = async (): Promise<Record<string, string>> =>
          (await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: 'flaky' }))
            .metadata?.annotations ?? {};
        await sleep(Math.max(0, Date.parse(since) + 7_000 - Date.now()));
        relay.cut(); // 5 s before noncompliantFor ends
        // The check before the eviction fetches afresh, meets the outage, and the clock pauses instead.
        const paused = await eventually(
          'clock paused',
          async () => {
            const a = await annotations();
            return a['sigwatch.dev/noncompliant-paused-at'] === undefined ? undefined : a;
          },
          20_000,
        );
        expect(paused['sigwatch.dev/stale'], 'the label is kept, marked stale').to.equal('true');
        await sleep(15_000);
        expect(await podExists(ns, 'flaky'), 'evicted while its registry was down').to.equal(true);
        expect(await label(ns, 'flaky')).to.equal('noncompliant');
        relay.restore();
        // A fresh NonCompliant after recovery resumes the clock, which has already run its course.
        await gone(ns, 'flaky', 60_000);
        expect(await podExists(ns, 'unreachable')).to.equal(true);
        expect(await label(ns, 'unreachable')).to.equal('unknown');
        const meta = (
          await kubeConfig()
            .makeApiClient(CoreV1Api)
            .readNamespacedPod({ namespace: ns, name: 'unreachable' })
        ).metadata;
        expect(meta?.annotations?.['sigwatch.dev/noncompliant-since']).to.equal(undefined);
      } finally {
        relay.restore();
      }
    });
  });

  it('asks once when evictions are switched on, with the figures it acted on; a replacement, a scale-up and a restart never ask again', async () => {
    const operatorNs = await freshNamespace('evict-switch-op');
    const ns = await freshNamespace('evict-switch');
    const name = `switch-${ns}`;
    const kube = new KubeHttp(kubeConnection());
    const path = `/apis/sigwatch.dev/v1alpha1/imagepolicies/${name}`;
    const paused = async (): Promise<{ status: string; reason: string; message: string } | undefined> =>
      (
        (await policies.status(name))?.['conditions'] as
          { type: string; status: string; reason: string; message: string }[] | undefined
      )?.find((c) => c.type === 'EvictionsPaused');
    const pausedGauge = async (op: OperatorProcess): Promise<string | undefined> => {
      const metrics = await (await fetch(`http://127.0.0.1:${String(op.probePort)}/metrics`)).text();
      return new RegExp(`sigwatch_evictions_paused\\{policy="${name}"\\} (\\d)`).exec(metrics)?.[1];
    };
    // Two replicas running an unsigned digest whose template's tag names a signed one now; three
    // Compliant pods besides: 2 of 5 matched pods fail.
    await deployment(ns, 'web', fixedTag, unsigned.ref, ['web-1', 'web-2']);
    for (const p of ['ok-1', 'ok-2', 'ok-3']) await runningPod(ns, p, signed.ref);
    const evict = { perOwnerInterval: '10m', maxNewViolationsPercent: 10 };
    await policies.create(name, { ...(await spec(ns, evict)), mode: 'Audit' });
    let op = await startOperatorProcess(operatorArgs(operatorNs));
    try {
      await eventually('judged in Audit', async () =>
        (await policies.status(name))?.['summary'] !== undefined &&
        ((await policies.status(name))?.['summary'] as { nonCompliant: number }).nonCompliant === 2
          ? true
          : undefined,
      );
      // Audit → Enforce (generation 2): one confirmation, saying how many pods would be evicted.
      await policies.replaceSpec(name, await spec(ns, evict));
      const tripped = await eventually('EvictionsPaused', async () => {
        const c = await paused();
        return c?.status === 'True' ? c : undefined;
      });
      const message =
        'Evictions were switched on while 2 of 5 matched pods are NonCompliant (more than 10%): up to 2 pods would be evicted; evictions are paused until the annotation sigwatch.dev/confirm-evictions names generation 2';
      expect(tripped.reason).to.equal('EvictionsSwitchedOn');
      expect(tripped.message).to.equal(message);
      expect((await policies.status(name))?.['evictionsPaused']).to.deep.include({
        reason: 'EvictionsSwitchedOn',
        generation: 2,
        newlyNonCompliant: 2,
        matchedPods: 5,
        maxNewViolationsPercent: 10,
      });
      // Raised while tripped (generation 3): still paused, and the message keeps the figures it acted on.
      await policies.replaceSpec(name, await spec(ns, { ...evict, maxNewViolationsPercent: 15 }));
      await eventually('generation 3 judged', async () =>
        (await policies.status(name))?.['observedGeneration'] === 3 ? true : undefined,
      );
      await sleep(2_000);
      expect(await paused()).to.deep.include({ status: 'True', message });
      expect(await podExists(ns, 'web-1')).to.equal(true);
      expect(await podExists(ns, 'web-2')).to.equal(true);

      await kube.call({
        method: 'PATCH',
        path,
        body: { metadata: { annotations: { 'sigwatch.dev/confirm-evictions': '3' } } },
      });
      const evicted = await eventually('one pod of web evicted', async () => {
        const [a, b] = await Promise.all([podExists(ns, 'web-1'), podExists(ns, 'web-2')]);
        return a && b ? undefined : a ? 'web-2' : 'web-1';
      });
      expect((await policies.status(name))?.['evictionsConfirmed']).to.deep.include({ generation: 2 });
      // Playing the ReplicaSet controller: the replacement, then a scale-up, run the same unsigned
      // digest again (the node's cached copy of the tag). 1 of 5 would be more than 15%.
      const rs = (await kube.call({
        method: 'GET',
        path: `/apis/apps/v1/namespaces/${ns}/replicasets/web-rs`,
      })) as { metadata: { uid: string } };
      const ownerReferences = [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-rs', uid: rs.metadata.uid, controller: true },
      ];
      for (const pod of ['web-3', 'web-4']) {
        await runningPod(ns, pod, unsigned.ref, { labels: { app: 'web' }, ownerReferences });
        await eventually(`${pod} judged NonCompliant`, async () =>
          (await label(ns, pod)) === 'noncompliant' ? true : undefined,
        );
        await sleep(3_000);
        expect(await paused(), `after ${pod}`).to.deep.include({ status: 'False', reason: 'NotPaused' });
      }
      expect(await pausedGauge(op)).to.equal('0');

      // A restart within the breaker's minute: the new leader meets every pod anew; the stored
      // confirmation keeps them from counting again.
      expect(await op.stop(), op.logs().slice(-3000)).to.equal(0);
      op = await startOperatorProcess(operatorArgs(operatorNs));
      await eventually('the breaker checked after the restart', async () => pausedGauge(op));
      await sleep(5_000);
      expect(await pausedGauge(op)).to.equal('0');
      expect(await paused()).to.deep.include({ status: 'False', reason: 'NotPaused' });
      expect((await policies.status(name))?.['evictionsPaused'] ?? null).to.equal(null);
      expect(
        await podExists(ns, evicted === 'web-1' ? 'web-2' : 'web-1'),
        'within perOwnerInterval',
      ).to.equal(true);
    } finally {
      expect(await op.stop(), op.logs().slice(-3000)).to.equal(0);
    }
  });

  it('keeps to maxPerHour across three crashes within the hour (the budget lives in status)', async () => {
    const operatorNs = await freshNamespace('evict-crash-op');
    const ns = await freshNamespace('evict-crash');
    const name = `crash-${ns}`;
    const pods = Array.from({ length: 50 }, (_, i) => `w${String(i)}`);
    for (const p of pods) await runningPod(ns, p, unsigned.ref);
    await policies.create(
      name,
      await spec(ns, { includeKinds: ['None'], maxPerHour: 5, noncompliantFor: '1s' }),
    );
    const remaining = async (): Promise<number> =>
      (await Promise.all(pods.map((p) => podExists(ns, p)))).filter(Boolean).length;
    for (let crash = 0; crash < 3; crash++) {
      const op = await startOperatorProcess(operatorArgs(operatorNs));
      const before = await remaining();
      // Killed as soon as it has evicted something (or after 20 s): mid-work, without cleanup.
      await eventually(
        'an eviction',
        async () => ((await remaining()) < before ? true : undefined),
        20_000,
      ).catch(() => undefined);
      await op.kill();
    }
    const last = await startOperatorProcess(operatorArgs(operatorNs));
    try {
      await sleep(10_000);
      const evicted = pods.length - (await remaining());
      const records = ((await policies.status(name))?.['evictions'] ?? []) as unknown[];
      expect(evicted, 'evictions in total').to.be.within(1, 5);
      expect(records.length, 'recorded evictions').to.be.within(evicted, 5);
    } finally {
      expect(await last.stop(), last.logs().slice(-3000)).to.equal(0);
    }
  });
});
