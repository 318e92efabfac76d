/**
 * Leader election on a real Lease: one leader at a time, a prompt handover
 * when the leader releases, a handover within the lease duration when it
 * vanishes without releasing — and, with two `sigwatch run` replicas, only
 * the leader says so on /metrics, and labelling survives killing it.
 */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { LeaderElector } from '../../../src/operator/leader.js';
import type { Logger } from '../../../src/operator/logger.js';
import { allCrds } from '../../../src/operator/crds.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

describe('operator leader election', function () {
  this.timeout(120_000);

  function elector(namespace: string, identity: string): LeaderElector {
    return new LeaderElector({
      kubeConfig: kubeConfig(),
      namespace,
      name: 'sigwatch-leader',
      identity,
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 300,
      logger: quiet,
      onStartedLeading: () => undefined,
      onStoppedLeading: () => undefined,
    });
  }

  const leaders = (list: readonly LeaderElector[]): number => list.filter((e) => e.isLeader()).length;

  it('elects exactly one leader and hands over at once when it releases', async () => {
    const ns = await freshNamespace('lease');
    const a = elector(ns, 'a');
    const b = elector(ns, 'b');
    a.start();
    b.start();
    try {
      await eventually('a leader', () => Promise.resolve(leaders([a, b]) === 1 ? true : undefined), 5_000);
      for (let i = 0; i < 10; i++) {
        expect(leaders([a, b])).to.equal(1);
        await new Promise((r) => setTimeout(r, 200));
      }
      const [first, second] = a.isLeader() ? [a, b] : [b, a];
      expect(first.holdsLeaseFor(1_000)).to.equal(true);
      const t0 = Date.now();
      await first.stop();
      expect(first.isLeader()).to.equal(false);
      await eventually('handover', () => Promise.resolve(second.isLeader() ? true : undefined), 3_000);
      expect(Date.now() - t0).to.be.lessThan(2_000);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('takes over within the lease duration when the leader vanishes without releasing', async () => {
    const ns = await freshNamespace('lease');
    const a = elector(ns, 'a');
    a.start();
    await eventually('a leads', () => Promise.resolve(a.isLeader() ? true : undefined), 5_000);
    const b = elector(ns, 'b');
    b.start();
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(b.isLeader()).to.equal(false);
      const t0 = Date.now();
      a.abandon();
      await eventually('b takes over', () => Promise.resolve(b.isLeader() ? true : undefined), 8_000);
      expect(Date.now() - t0).to.be.lessThan(3_000 + 300 + 2_000);
      const lease = await kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: ns, name: 'sigwatch-leader' });
      expect(lease.spec?.holderIdentity).to.equal('b');
      expect(lease.spec?.leaseTransitions).to.equal(1);
    } finally {
      await b.stop();
    }
  });

  describe('two sigwatch run replicas', () => {
    const replicas: OperatorProcess[] = [];
    const policies = new PolicyObjects();
    after(async () => {
      for (const r of replicas) await r.stop();
      await policies.deleteAll();
    });

    it('only the leader leads; killing it hands labelling over to the other', async () => {
      for (const crd of allCrds()) await applyCrd(crd as never);
      const operatorNs = await freshNamespace('ha');
      const appNs = await freshNamespace('ha-app');
      const key = await generateKeyPair();
      const img = await pushRandomImage(testEnv().registry, randomRepo('ha'));
      await sign(img.ref, key, 'bundle');
      const args = (id: string): string[] => [
        '--namespace',
        operatorNs,
        '--insecure-registry',
        testEnv().registry,
        '--lease-duration',
        '3s',
        '--identity',
        id,
      ];
      replicas.push(
        await startOperatorProcess(args('replica-a')),
        await startOperatorProcess(args('replica-b')),
      );
      const leaderMetric = async (r: OperatorProcess): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${String(r.probePort)}/metrics`)).text();
        return Number(/^sigwatch_leader (\d)$/m.exec(text)?.[1] ?? -1);
      };
      const coordination = kubeConfig().makeApiClient(CoordinationV1Api);
      const holder = async (): Promise<string | undefined> =>
        (await coordination.readNamespacedLease({ namespace: operatorNs, name: 'sigwatch-leader' })).spec
          ?.holderIdentity;
      const first = await eventually(
        'a lease holder',
        async () => {
          const h = await holder();
          return h === '' ? undefined : h;
        },
        10_000,
      );
      const [leaderProc, followerProc] =
        first === 'replica-a' ? [replicas[0], replicas[1]] : [replicas[1], replicas[0]];
      if (leaderProc === undefined || followerProc === undefined) throw new Error('replicas missing');
      await eventually('leader metric', async () =>
        (await leaderMetric(leaderProc)) === 1 ? true : undefined,
      );
      expect(await leaderMetric(followerProc)).to.equal(0);

      await policies.create(
        `ha-${appNs}`,
        enforceIn(
          appNs,
          [`${testEnv().registry}/**`],
          [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
        ),
      );
      const pod = (name: string): Promise<void> => runningPod(appNs, name, img.ref);
      const labelled = (name: string): Promise<true> =>
        eventually(
          `${name} labelled`,
          async () => ((await podMarks(appNs, name)).label === 'compliant' ? true : undefined),
          15_000,
        );
      await pod('before');
      await labelled('before');

      // Kill the leader without a chance to release: the follower must take over within the lease.
      const t0 = Date.now();
      const killed = leaderProc === replicas[0] ? 'replica-a' : 'replica-b';
      await leaderProc.kill();
      await eventually(
        'new holder',
        async () => {
          const h = await holder();
          return h !== undefined && h !== '' && h !== killed ? h : undefined;
        },
        15_000,
      );
      expect(Date.now() - t0).to.be.lessThan(3_000 + 5_000);
      await pod('after');
      await labelled('after');
      expect(await leaderMetric(followerProc)).to.equal(1);
    });
  });
});
