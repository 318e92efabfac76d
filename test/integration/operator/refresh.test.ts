/**
 * What only time shows: the operator re-verifies at `reverifyInterval`
 * (1 minute, the shortest allowed), so a signature deleted from the registry
 * and a signature added to it both reach the labels without any Kubernetes
 * event; and after 40 s without watch events a new pod of a known digest is
 * still labelled within a second; and a pod whose registry is down stays
 * `unknown` (never `noncompliant`) through the retries, and is judged within
 * 2 × reverifyInterval of the registry's return. All run side by side.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';

describe('operator: re-verification over time', function () {
  this.timeout(240_000);
  let operator: OperatorProcess;
  let ns: string;
  let key: CosignKey;
  /** The legacy registry behind a relay that is down until the test restores it. */
  let outage: TcpRelay;
  const policies = new PolicyObjects();

  const label = async (name: string): Promise<string | undefined> => (await podMarks(ns, name)).label;

  const waitLabel = (name: string, want: string, timeoutMs: number): Promise<true> =>
    eventually(`${name} ${want}`, async () => ((await label(name)) === want ? true : undefined), timeoutMs);

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const operatorNs = await freshNamespace('refresh-op');
    ns = await freshNamespace('refresh');
    key = await generateKeyPair();
    outage = await startTcpRelay(testEnv().legacyRegistry, { startCut: true });
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().legacyRegistry,
      '--insecure-registry',
      outage.address,
      '--no-leader-election',
    ]);
    await policies.create(
      `refresh-${ns}`,
      enforceIn(
        ns,
        [`${testEnv().legacyRegistry}/**`, `${outage.address}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
        {
          reverifyInterval: '1m',
        },
      ),
    );
  });

  after(async () => {
    await policies.deleteAll();
    await outage.close();
    expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
  });

  it('follows a deleted and an added signature at the next re-verification, stays quick after 40 s of quiet, and recovers from a registry outage', async () => {
    const repo = randomRepo('refresh');
    const [toUnsign, toSign, steady, unreachable] = await Promise.all([
      pushRandomImage(testEnv().legacyRegistry, `${repo}/a`),
      pushRandomImage(testEnv().legacyRegistry, `${repo}/b`),
      pushRandomImage(testEnv().legacyRegistry, `${repo}/c`),
      pushRandomImage(testEnv().legacyRegistry, `${repo}/d`),
    ]);
    // The legacy tag format: a signature is the tag sha256-<hex>.sig, which can be deleted.
    await Promise.all([
      sign(toUnsign.ref, key, 'legacy'),
      sign(steady.ref, key, 'legacy'),
      sign(unreachable.ref, key, 'legacy'),
    ]);
    await Promise.all([
      runningPod(ns, 'unsign-me', toUnsign.ref),
      runningPod(ns, 'sign-me', toSign.ref),
      runningPod(ns, 'steady', steady.ref),
      // Signed, but its registry is down: Unknown, never noncompliant, until it comes back.
      runningPod(ns, 'outage', unreachable.ref.replace(testEnv().legacyRegistry, outage.address)),
    ]);
    await Promise.all([
      waitLabel('unsign-me', 'compliant', 15_000),
      waitLabel('sign-me', 'noncompliant', 15_000),
      waitLabel('steady', 'compliant', 15_000),
    ]);

    const sigTag = `${toUnsign.repository}:${toUnsign.digest.replace(':', '-')}.sig`;
    await exec('crane', ['delete', '--insecure', sigTag]);
    await sign(toSign.ref, key, 'legacy');

    // Meanwhile nothing changes in Kubernetes for 40 s; then a new pod of a known digest appears.
    // The pod behind the outage is sampled throughout: retries must never turn it noncompliant.
    const seen = new Set<string | undefined>();
    for (const until = Date.now() + 40_000; Date.now() < until;) {
      seen.add(await label('outage'));
      await new Promise((r) => setTimeout(r, 1_000));
    }
    expect([...seen]).to.include('unknown');
    expect(
      [...seen].every((l) => l === undefined || l === 'unknown'),
      [...seen].join(),
    ).to.equal(true);
    outage.restore();
    const restoredAt = Date.now();
    const t0 = Date.now();
    await runningPod(ns, 'late', steady.ref);
    await waitLabel('late', 'compliant', 5_000);
    expect(Date.now() - t0, 'labelled within a second of its status').to.be.lessThan(1_000);

    // reverifyInterval 1m, jittered by ±10 %: both changes are seen within about 70 s of the start.
    await Promise.all([
      waitLabel('unsign-me', 'noncompliant', 40_000),
      waitLabel('sign-me', 'compliant', 40_000),
    ]);
    // Back within 2 × reverifyInterval of the registry's return (failures are retried with backoff).
    await waitLabel('outage', 'compliant', 2 * 60_000 - (Date.now() - restoredAt));
  });
});
