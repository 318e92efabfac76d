/**
 * One truth in ImagePolicy status and Events (issue 22, item 5), with the
 * real operator process against the real API server and registry:
 *
 * - `violations` holds definite failures only: a pod with no definite
 *   verdict (its registry cut) is counted and listed under `unknown`, and a
 *   NonCompliant pod whose current verdict turned Unknown (a policy edit
 *   that needs evidence from the cut registry) stays listed by its own
 *   definite reason, marked stale — as its pod annotations say;
 * - a violation's `since` is never later than the first Event about it;
 * - after the operator is stopped and a new process started (a rollout, a
 *   leader change), the same (owner, digest, reason) gets no second Event,
 *   also for a new pod of the same owner.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { generateKeyPair } from '../../support/cosign.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig } from '../../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';

interface Status {
  summary?: { pods: number; nonCompliant: number; unknown: number };
  violations?: { pod: string; reason: string; since: string; stale?: boolean }[];
  unknown?: { pod: string; reasons: string[]; since: string }[];
}

describe('operator: status and Events tell one story', function () {
  this.timeout(180_000);
  let operatorNs: string;
  let operator: OperatorProcess | undefined;
  let outage: TcpRelay;
  const policies = new PolicyObjects();

  const start = (): Promise<OperatorProcess> =>
    startOperatorProcess([
      ...['--namespace', operatorNs, '--no-leader-election'],
      ...[testEnv().registry, outage.address].flatMap((r) => ['--insecure-registry', r]),
    ]);

  /** An authority with a key no image here is signed with: every reachable image is definitely unsigned. */
  const keyAuthority = async (extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> => ({
    name: 'k',
    key: { publicKey: await readFile((await generateKeyPair()).pub, 'utf8') },
    ...extra,
  });

  const status = (name: string, want: (s: Status) => boolean, what: string): Promise<Status> =>
    eventually(
      what,
      async () => {
        const s = (await policies.status(name)) as Status | undefined;
        return s !== undefined && want(s) ? s : undefined;
      },
      30_000,
    );

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    operatorNs = await freshNamespace('truth-op');
    // A registry that stays cut: what it serves can never be judged.
    outage = await startTcpRelay(testEnv().registry, { startCut: true });
    operator = await start();
  });

  after(async () => {
    await policies.deleteAll();
    await outage.close();
    if (operator !== undefined) expect(await operator.stop(), operator.logs().slice(-4000)).to.equal(0);
  });

  it('lists an undecided pod under unknown, never as a violation, and a stale violation by its definite reason', async () => {
    const ns = await freshNamespace('truth');
    const name = `truth-${ns}`;
    const repo = randomRepo('truth');
    const [bad, unreachable] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/bad`),
      pushRandomImage(testEnv().registry, `${repo}/unreachable`),
    ]);
    const images = [`${testEnv().registry}/${repo}/**`, `${outage.address}/${repo}/**`];
    const authority = await keyAuthority();
    await policies.create(name, enforceIn(ns, images, [authority]));
    await runningPod(ns, 'bad', bad.ref);
    await runningPod(ns, 'undecided', unreachable.ref.replace(testEnv().registry, outage.address));
    const first = await status(
      name,
      (s) => s.summary?.nonCompliant === 1 && s.summary.unknown === 1,
      'one pod NonCompliant, one Unknown',
    );
    expect(first.violations?.map((v) => [v.pod, v.reason, v.stale])).to.deep.equal([
      ['bad', 'SignatureMissing', undefined],
    ]);
    expect(first.unknown?.map((u) => [u.pod, u.reasons])).to.deep.equal([
      ['undecided', ['RegistryUnavailable']],
    ]);

    // The edit needs signatures from the cut registry: bad's current verdict turns Unknown, its last
    // definite one (SignatureMissing) stands, stale — in the list, the count and on the pod alike.
    await policies.replaceSpec(
      name,
      enforceIn(ns, images, [{ ...authority, source: { repository: `${outage.address}/${repo}/sigs` } }]),
    );
    const stale = await status(
      name,
      (s) => s.violations?.some((v) => v.pod === 'bad' && v.stale === true) === true,
      'the violation marked stale',
    );
    expect(stale.summary).to.include({ nonCompliant: 1, unknown: 1 });
    expect(stale.violations?.map((v) => [v.pod, v.reason, v.since])).to.deep.equal([
      ['bad', 'SignatureMissing', first.violations?.[0]?.since],
    ]);
    expect(stale.unknown?.map((u) => u.pod)).to.deep.equal(['undecided']);
    const annotations = (
      await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name: 'bad' })
    ).metadata?.annotations;
    expect([annotations?.['sigwatch.dev/reasons'], annotations?.['sigwatch.dev/stale']]).to.deep.equal([
      'SignatureMissing',
      'true',
    ]);
  });

  describe('a ReplicaSet pod running an unsigned image', () => {
    // Set by the first test, read by the second: the restart is about the Event the first one saw.
    const owner = {
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: randomUUID(), controller: true },
      ],
    };
    let ns = '';
    let name = '';
    let ref = '';
    let firstEvent: { pod: string; at: string } | undefined;

    const events = async (): Promise<{ pod: string; at: string }[]> =>
      (await kubeConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: ns })).items
        .filter((e) => e.reason === 'SignatureMissing')
        .map((e) => ({ pod: e.involvedObject.name ?? '', at: String(e.firstTimestamp?.toISOString()) }));

    before(async () => {
      ns = await freshNamespace('once');
      name = `once-${ns}`;
      ref = (await pushRandomImage(testEnv().registry, randomRepo('once'))).ref;
      await policies.create(name, enforceIn(ns, [`${testEnv().registry}/**`], [await keyAuthority()]));
      await runningPod(ns, 'web-1', ref, owner);
      [firstEvent] = await eventually('the SignatureMissing Event', async () => {
        const found = await events();
        return found.length > 0 ? found : undefined;
      });
    });

    it('dates the violation no later than the first Event about it', async () => {
      const listed = await status(name, (s) => (s.violations ?? []).length === 1, 'web-1 listed');
      const since = listed.violations?.[0]?.since ?? '';
      expect(Date.parse(since), `since ${since}, first Event ${String(firstEvent?.at)}`).to.be.at.most(
        Date.parse(firstEvent?.at ?? ''),
      );
    });

    it('gets no second Event for the same (owner, digest, reason) from a new operator process', async () => {
      if (operator !== undefined) expect(await operator.stop()).to.equal(0);
      operator = undefined;
      operator = await start();
      // Another pod of the same owner and digest: the new process judges both and writes both.
      await runningPod(ns, 'web-2', ref, owner);
      await status(
        name,
        (s) => (s.violations ?? []).length === 2,
        'web-1 and web-2 listed by the new process',
      );
      // Events are written in the judgement, before the (debounced) status: any repeat would be here by now.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(await events()).to.deep.equal([firstEvent]);
    });
  });
});
