/**
 * ImagePolicy status keeps its history across operator restarts (issue 19,
 * defect 1): a condition's `lastTransitionTime` moves only when its status
 * does, and a violation's `since` is when it began — not when the current
 * process first saw it. The operator runs as a child process against the
 * real API server and registry; it is stopped and a new one started, as a
 * rollout or a leader change would.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { generateKeyPair } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';
import { allCrds } from '../../../src/operator/crds/crds.js';

interface Condition {
  type: string;
  status: string;
  lastTransitionTime: string;
}
interface Violation {
  pod: string;
  since: string;
}

describe('operator: ImagePolicy status across restarts', function () {
  this.timeout(120_000);
  let operatorNs: string;
  let operator: OperatorProcess | undefined;
  const policies = new PolicyObjects();

  const start = async (): Promise<OperatorProcess> =>
    startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--no-leader-election',
      '--log-level',
      'debug',
    ]);

  /** An Enforce policy over `ns` with a key no image is signed with: every pod is definitely NonCompliant. */
  const failingPolicy = async (name: string, ns: string): Promise<void> => {
    await policies.create(name, {
      mode: 'Enforce',
      match: {
        images: [`${testEnv().registry}/**`],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      },
      authorities: [{ name: 'k', key: { publicKey: await readFile((await generateKeyPair()).pub, 'utf8') } }],
    });
  };

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    operatorNs = await freshNamespace('sigwatch');
  });

  after(async () => {
    if (operator !== undefined) expect(await operator.stop(), operator.logs().slice(-4000)).to.equal(0);
    await policies.deleteAll();
  });

  it('keeps lastTransitionTime and violations[].since when a new operator process takes over', async () => {
    const ns = await freshNamespace('history');
    const name = `history-${ns}`;
    const repo = randomRepo('history');
    const [first, second] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/a`),
      pushRandomImage(testEnv().registry, `${repo}/b`),
    ]);
    await failingPolicy(name, ns);
    operator = await start();
    await runningPod(ns, 'first', first.ref);
    const status = (want: (s: { conditions: Condition[]; violations: Violation[] }) => boolean) =>
      eventually('policy status', async () => {
        const s = (await policies.status(name)) as
          { conditions?: Condition[]; violations?: Violation[] } | undefined;
        const view = { conditions: s?.conditions ?? [], violations: s?.violations ?? [] };
        return want(view) ? view : undefined;
      });
    const before = await status((s) => s.violations.some((v) => v.pod === 'first'));
    expect((await podMarks(ns, 'first')).label).to.equal('noncompliant');
    expect(await operator.stop()).to.equal(0);
    operator = undefined;
    // RFC 3339 in status has second precision: let the clock move past the first process's writes.
    await new Promise((r) => setTimeout(r, 2_100));
    operator = await start();
    // A second pod makes the new process write the status (its summary and violations change).
    await runningPod(ns, 'second', second.ref);
    const after = await status((s) => s.violations.some((v) => v.pod === 'second'));
    for (const c of before.conditions) {
      const now = after.conditions.find((x) => x.type === c.type);
      expect(now?.status, c.type).to.equal(c.status);
      expect(now?.lastTransitionTime, c.type).to.equal(c.lastTransitionTime);
    }
    const since = (s: { violations: Violation[] }, pod: string): string | undefined =>
      s.violations.find((v) => v.pod === pod)?.since;
    expect(since(after, 'first')).to.equal(since(before, 'first'));
    expect(Date.parse(since(after, 'second') ?? '')).to.be.greaterThan(
      Date.parse(since(before, 'first') ?? ''),
    );
  });

  it('does not keep a stored time from the future, whoever wrote it', async () => {
    const ns = await freshNamespace('future');
    const name = `future-${ns}`;
    const img = await pushRandomImage(testEnv().registry, randomRepo('future'));
    await failingPolicy(name, ns);
    if (operator !== undefined) expect(await operator.stop()).to.equal(0);
    operator = undefined;
    // Someone with access to the status subresource stores times in the year 2999.
    const future = '2999-01-01T00:00:00Z';
    await exec('kubectl', [
      '--kubeconfig',
      testEnv().kubeconfig,
      'patch',
      'imagepolicy',
      name,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          conditions: ['Ready', 'Synced', 'Degraded'].map((type) => ({
            type,
            status: type === 'Degraded' ? 'False' : 'True',
            reason: 'Forged',
            message: '',
            lastTransitionTime: future,
            observedGeneration: 1,
          })),
          violations: [
            {
              namespace: ns,
              pod: 'p',
              container: 'app',
              image: img.ref,
              digest: img.digest,
              reason: 'SignatureMissing',
              message: '',
              since: future,
            },
          ],
        },
      }),
    ]);
    operator = await start();
    await runningPod(ns, 'p', img.ref);
    const written = await eventually('the status rewritten', async () => {
      const s = (await policies.status(name)) as
        { conditions?: Condition[]; violations?: Violation[] } | undefined;
      return s?.violations?.some((v) => v.pod === 'p' && v.since !== future) === true ? s : undefined;
    });
    for (const c of written.conditions ?? []) expect(c.lastTransitionTime, c.type).not.to.equal(future);
  });
});
