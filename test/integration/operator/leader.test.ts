/**
 * Leader election on a real Lease: a lone candidate leads at once and writes
 * a well-formed Lease (MicroTimes that round-trip); two candidates never
 * lead together; release hands over at once; a vanished leader is replaced
 * within the lease duration; a leader cut off from the API server steps
 * down at its renew deadline, before anyone else can take over; candidates
 * racing for the Lease resolve their 409s with exactly one winner — and,
 * with two `sigwatch run` replicas, only the leader writes (the API
 * server's audit log, by User-Agent), talks to the registry (a counting
 * proxy) and wears the leader label; killing it hands all of that over.
 */
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { LeaderElector, type LeaderLogger, type LeaderOptions } from '../../../src/operator/kube/leader.js';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { auditedWrites, type AuditedWrite } from '../../support/audit-log.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { applyCrd, freshNamespace, kubeConfig, kubeConnection } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { startTcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';

const leaseName = 'sigwatch-leader';
const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 } as const;

interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly meta: Record<string, unknown>;
}

/** An elector under test, with what it logged and when its callbacks ran (Date.now()). */
interface Candidate {
  readonly elector: LeaderElector;
  readonly identity: string;
  readonly logs: LogEntry[];
  readonly started: number[];
  readonly stopped: number[];
}

function candidate(
  namespace: string,
  identity: string,
  overrides: Partial<Pick<LeaderOptions, 'kube'>> = {},
): Candidate {
  const logs: LogEntry[] = [];
  const log =
    (level: LogEntry['level']) =>
    (message: string, meta?: object): void => {
      logs.push({ level, message, meta: { ...meta } });
    };
  const logger: LeaderLogger = { info: log('info'), warn: log('warn'), error: log('error') };
  const started: number[] = [];
  const stopped: number[] = [];
  const elector = new LeaderElector({
    kube: overrides.kube ?? new KubeHttp(kubeConnection()),
    namespace,
    name: leaseName,
    identity,
    ...timing,
    logger,
    onStartedLeading: () => started.push(Date.now()),
    onStoppedLeading: () => stopped.push(Date.now()),
  });
  return { elector, identity, logs, started, stopped };
}

const leaders = (list: readonly Candidate[]): Candidate[] => list.filter((c) => c.elector.isLeader());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls every 20 ms (finer than `eventually`, since these tests measure handover times). */
async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await sleep(20);
  }
}

const readLease = (namespace: string): Promise<V1Lease> =>
  kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace, name: leaseName });

/** A MicroTime as client-node hands it back (a string at runtime, whatever its type says), in epoch ms. */
const millis = (value: unknown): number =>
  value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;

/** The test kubeconfig with its cluster's server replaced (same CA and client credentials). */
/** The admin's connection, sent to `server` instead (a relay in front of the API server). */
function kubeVia(server: string): KubeHttp {
  return new KubeHttp({ ...kubeConnection(), server });
}

describe('operator leader election', function () {
  this.timeout(60_000);
  const running: Candidate[] = [];
  const start = (c: Candidate): Candidate => {
    running.push(c);
    c.elector.start();
    return c;
  };
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.elector.stop()));
  });
  /** `a` leading in a fresh namespace, and `b` campaigning for a second without taking over. */
  const leaderAndWaiting = async (): Promise<{ ns: string; a: Candidate; b: Candidate }> => {
    const ns = await freshNamespace('lease');
    const a = start(candidate(ns, 'a'));
    await until('a leads', () => a.elector.isLeader(), 5_000);
    const b = start(candidate(ns, 'b'));
    await sleep(1_000);
    expect(b.elector.isLeader()).to.equal(false);
    return { ns, a, b };
  };

  it('a lone candidate leads within a second and writes a Lease whose MicroTimes round-trip', async () => {
    const ns = await freshNamespace('lease');
    const t0 = Date.now();
    const solo = start(candidate(ns, 'solo'));
    await until('solo leads', () => solo.elector.isLeader(), 5_000);
    expect(Date.now() - t0).to.be.lessThan(1_000);
    expect(solo.started).to.have.length(1);
    expect(solo.elector.holdsLeaseFor(1_000)).to.equal(true);
    expect(solo.elector.holdsLeaseFor(timing.leaseDurationMs)).to.equal(false);

    const first = await readLease(ns);
    expect(first.spec?.holderIdentity).to.equal('solo');
    expect(first.spec?.leaseDurationSeconds).to.equal(3);
    expect(first.spec?.leaseTransitions).to.equal(0);
    // What we read is what we would write back: six fractional digits, as the API server demands.
    expect(JSON.stringify(first.spec?.renewTime)).to.match(/\.\d{6}Z"$/);
    expect(JSON.stringify(new V1MicroTime(millis(first.spec?.renewTime)))).to.equal(
      JSON.stringify(first.spec?.renewTime),
    );
    const renewed = millis(first.spec?.renewTime);
    expect(renewed).to.be.within(t0 - 1_000, Date.now() + 1_000);

    await sleep(2 * timing.retryPeriodMs + 300);
    const later = await readLease(ns);
    expect(millis(later.spec?.renewTime)).to.be.greaterThan(renewed);
    expect(millis(later.spec?.acquireTime)).to.equal(millis(first.spec?.acquireTime));
    expect(later.spec?.leaseTransitions).to.equal(0);
    expect(solo.logs.filter((l) => l.level !== 'info')).to.deep.equal([]);
  });

  it('two candidates: exactly one leads at every sample, and always the same one', async () => {
    const ns = await freshNamespace('lease');
    const both = [start(candidate(ns, 'a')), start(candidate(ns, 'b'))];
    await until('a leader', () => leaders(both).length === 1, 5_000);
    const leader = leaders(both)[0]?.identity;
    for (let i = 0; i < 40; i++) {
      expect(leaders(both).map((c) => c.identity)).to.deep.equal([leader]);
      await sleep(100);
    }
    const follower = both.find((c) => c.identity !== leader);
    expect(follower?.elector.holdsLeaseFor(0)).to.equal(false);
    expect(follower?.started).to.deep.equal([]);
    expect((await readLease(ns)).spec?.holderIdentity).to.equal(leader);
  });

  it('stop() releases the Lease and the other candidate takes over within a second or two', async () => {
    const { ns, a, b } = await leaderAndWaiting();

    const t0 = Date.now();
    await a.elector.stop();
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.elector.holdsLeaseFor(0)).to.equal(false);
    expect(a.stopped).to.have.length(1);
    await until('b leads', () => b.elector.isLeader(), 5_000);
    expect(Date.now() - t0).to.be.lessThan(2_000);
    const lease = await readLease(ns);
    expect(lease.spec?.holderIdentity).to.equal('b');
    expect(lease.spec?.leaseTransitions).to.equal(1);
  });

  it('a leader that vanishes without releasing is replaced within the lease duration, not before', async () => {
    const { ns, a, b } = await leaderAndWaiting();

    const t0 = Date.now();
    a.elector.abandon();
    await until('b leads', () => b.elector.isLeader(), 10_000);
    const elapsed = Date.now() - t0;
    // a renewed at most one retry period before vanishing; b saw that renewal at most one
    // (jittered) retry period late, and notices the expiry at most one retry period late.
    expect(elapsed).to.be.greaterThan(timing.leaseDurationMs - timing.retryPeriodMs - 200);
    expect(elapsed).to.be.lessThan(timing.leaseDurationMs + 2 * 1.2 * timing.retryPeriodMs + 500);
    // The frozen leader still believes it leads, but its own clock says the lease is gone.
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.elector.holdsLeaseFor(0)).to.equal(false);
    const lease = await readLease(ns);
    expect(lease.spec?.holderIdentity).to.equal('b');
    expect(lease.spec?.leaseTransitions).to.equal(1);
  });

  it('a leader cut off from the API server steps down at its renew deadline, before anyone takes over', async () => {
    const ns = await freshNamespace('lease');
    const server = kubeConfig().getCurrentCluster()?.server;
    if (server === undefined) throw new Error('no cluster in the test kubeconfig');
    const relay = await startTcpRelay(new URL(server));
    try {
      const a = start(candidate(ns, 'a', { kube: kubeVia(relay.url) }));
      await until('a leads', () => a.elector.isLeader(), 5_000);
      const b = start(candidate(ns, 'b'));
      await sleep(1_000);

      const t0 = Date.now();
      relay.cut();
      await sleep(1_200);
      // Still within its renew deadline, so still leading, but no longer with 2 s to spare.
      expect(a.elector.isLeader()).to.equal(true);
      expect(a.elector.holdsLeaseFor(2_000)).to.equal(false);
      await until('a steps down', () => !a.elector.isLeader(), 5_000);
      const stoppedAt = a.stopped[0] ?? Number.NaN;
      expect(stoppedAt - t0).to.be.within(
        timing.renewDeadlineMs - timing.retryPeriodMs - 200,
        timing.renewDeadlineMs + 300,
      );
      expect(a.logs.some((l) => l.level === 'warn')).to.equal(true);

      await until('b leads', () => b.elector.isLeader(), 10_000);
      expect(b.started[0]).to.be.greaterThan(stoppedAt);
      expect(a.elector.isLeader()).to.equal(false);
      expect((await readLease(ns)).spec?.holderIdentity).to.equal('b');
    } finally {
      await Promise.all(running.splice(0).map((c) => c.elector.stop()));
      await relay.close();
    }
  });

  describe('candidates racing for the Lease resolve 409 Conflict with exactly one winner', () => {
    const racers = 6;

    async function race(ns: string): Promise<Candidate[]> {
      const all = Array.from({ length: racers }, (_, i) => candidate(ns, `racer-${String(i)}`));
      // Started in one tick, so their first reads all precede the first write.
      for (const c of all) start(c);
      await until('a winner', () => leaders(all).length === 1, 5_000);
      await sleep(1_500);
      expect(leaders(all)).to.have.length(1);
      const conflicts = all.flatMap((c) => c.logs).filter((l) => l.meta['status'] === 409);
      expect(conflicts.length).to.be.greaterThan(0);
      expect(all.flatMap((c) => c.logs).filter((l) => l.level !== 'info')).to.deep.equal([]);
      expect(all.flatMap((c) => c.started)).to.have.length(1);
      return all;
    }

    it('to create it', async () => {
      const ns = await freshNamespace('lease');
      const all = await race(ns);
      const lease = await readLease(ns);
      expect(lease.spec?.holderIdentity).to.equal(leaders(all)[0]?.identity);
      expect(lease.spec?.leaseTransitions).to.equal(0);
    });

    it('to take it over once released', async () => {
      const ns = await freshNamespace('lease');
      const now = new V1MicroTime(Date.now());
      await kubeConfig()
        .makeApiClient(CoordinationV1Api)
        .createNamespacedLease({
          namespace: ns,
          body: {
            metadata: { name: leaseName },
            spec: {
              holderIdentity: '',
              leaseDurationSeconds: 1,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 4,
            },
          },
        });
      const all = await race(ns);
      const lease = await readLease(ns);
      expect(lease.spec?.holderIdentity).to.equal(leaders(all)[0]?.identity);
      // Exactly one write won: a lost 409 that was retried blindly would count twice.
      expect(lease.spec?.leaseTransitions).to.equal(5);
    });
  });

  describe('two sigwatch run replicas', () => {
    const replicas: OperatorProcess[] = [];
    const policies = new PolicyObjects();
    let proxy: CountingProxy | undefined;
    after(async () => {
      for (const r of replicas) await r.stop();
      await policies.deleteAll();
      await proxy?.close();
    });

    it('only the leader writes, talks to the registry and wears the leader label; killing it hands all three over', async () => {
      for (const crd of allCrds()) await applyCrd(crd);
      const operatorNs = await freshNamespace('ha');
      const appNs = await freshNamespace('ha-app');
      const key = await generateKeyPair();
      proxy = await startCountingProxy(testEnv().registry);
      const img = await pushRandomImage(proxy.address, randomRepo('ha'));
      await sign(img.ref, key, 'bundle');
      // The replicas' own pods, as a Deployment would run them (the downward API gives POD_NAME).
      for (const id of ['replica-a', 'replica-b']) await runningPod(operatorNs, id, img.ref);
      const args = (id: string): string[] => [
        '--namespace',
        operatorNs,
        '--insecure-registry',
        proxy?.address ?? '',
        '--lease-duration',
        '3s',
        '--identity',
        id,
      ];
      proxy.reset();
      const t0 = Date.now();
      replicas.push(
        await startOperatorProcess(args('replica-a'), { env: { POD_NAME: 'replica-a' } }),
        await startOperatorProcess(args('replica-b'), { env: { POD_NAME: 'replica-b' } }),
      );
      const metrics = async (r: OperatorProcess): Promise<string> =>
        (await fetch(`http://127.0.0.1:${String(r.probePort)}/metrics`)).text();
      const leaderMetric = async (r: OperatorProcess): Promise<number> =>
        Number(/^sigwatch_leader (\d)$/m.exec(await metrics(r))?.[1] ?? -1);
      const registryRequests = async (r: OperatorProcess): Promise<number> =>
        [...(await metrics(r)).matchAll(/^sigwatch_registry_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
      const leaderMark = async (pod: string): Promise<string | undefined> =>
        (await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: operatorNs, name: pod }))
          .metadata?.labels?.['sigwatch.dev/leader'];
      const holder = async (): Promise<string | undefined> =>
        (await readLease(operatorNs)).spec?.holderIdentity;
      const first = await eventually(
        'a lease holder',
        async () => {
          const h = await holder();
          return h === '' ? undefined : h;
        },
        10_000,
      );
      const [leaderProc, followerProc, leaderId, followerId] =
        first === 'replica-a'
          ? [replicas[0], replicas[1], 'replica-a', 'replica-b']
          : [replicas[1], replicas[0], 'replica-b', 'replica-a'];
      if (leaderProc === undefined || followerProc === undefined) throw new Error('replicas missing');
      await eventually('leader metric', async () =>
        (await leaderMetric(leaderProc)) === 1 ? true : undefined,
      );
      expect(await leaderMetric(followerProc)).to.equal(0);
      await eventually('the leader label on the leader pod', async () =>
        (await leaderMark(leaderId)) === 'true' ? true : undefined,
      );
      expect(await leaderMark(followerId)).to.equal(undefined);

      await policies.create(
        `ha-${appNs}`,
        enforceIn(
          appNs,
          [`${proxy.address}/**`],
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

      // The registry saw the leader's requests and nobody else's: the proxy's count is the leader's own.
      expect(proxy.requests.length).to.be.greaterThan(0);
      expect(await registryRequests(followerProc)).to.equal(0);
      expect(await registryRequests(leaderProc)).to.equal(proxy.requests.length);
      // The API server saw writes from the leader only (label, policy status), none from the follower.
      const writesSince = async (since: number, agent: string): Promise<AuditedWrite[]> =>
        (await auditedWrites()).filter((w) => w.at >= since - 1000 && w.userAgent.includes(`(${agent})`));
      // Policy status is debounced: wait for it rather than sample once.
      await eventually('the leader writing labels and policy status', async () => {
        const kinds = new Set(
          (await writesSince(t0, leaderId)).map((w) => `${w.resource}/${w.subresource ?? ''}`),
        );
        return kinds.has('pods/') && kinds.has('imagepolicies/status') ? kinds : undefined;
      });
      expect(await writesSince(t0, followerId)).to.deep.equal([]);

      // Kill the leader without a chance to release: the follower must take over within the lease.
      const t1 = Date.now();
      await leaderProc.kill();
      await eventually(
        'new holder',
        async () => {
          const h = await holder();
          return h !== undefined && h !== '' && h !== leaderId ? h : undefined;
        },
        15_000,
      );
      expect(Date.now() - t1).to.be.lessThan(3_000 + 5_000);
      await pod('after');
      await labelled('after');
      expect(await leaderMetric(followerProc)).to.equal(1);
      // The new leader wears the label and took it off the crashed one, whose pod a restart would keep.
      await eventually('the leader label moved', async () =>
        (await leaderMark(followerId)) === 'true' && (await leaderMark(leaderId)) === undefined
          ? true
          : undefined,
      );
      const after = await writesSince(t1, followerId);
      expect(
        after.some((w) => w.resource === 'pods' && w.namespace === appNs && w.name === 'after'),
      ).to.equal(true);
    });
  });
});
