/**
 * ImageAudit notifications through a real Alertmanager on loopback (design
 * §2): the alert arrives with its labels, stays firing past Alertmanager's
 * `resolve_timeout` because the leader re-posts it with `endsAt` ahead, and
 * is resolved by a clean run; an unreachable or not allow-listed
 * Alertmanager leaves the audit successful with `NotificationFailed=True`.
 */
import { readFile } from 'node:fs/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { startAlertmanager, type Alertmanager } from '../../support/alertmanager.js';
import { generateKeyPair } from '../../support/cosign.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, kubeConnection } from '../../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

interface Conditions {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  lastCompletionTime?: string;
}

describe('operator: ImageAudit notifications', function () {
  this.timeout(180_000);
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  const policies = new PolicyObjects();
  let am: Alertmanager;
  let operator: OperatorProcess;
  let operatorNs: string;
  let ns: string;
  const dead = 'http://127.0.0.1:1';

  const auditPath = (name = ''): string =>
    `/apis/sigwatch.dev/v1alpha1/namespaces/${operatorNs}/imageaudits${name === '' ? '' : `/${name}`}`;
  const create = (name: string, url: string): Promise<unknown> =>
    kube().call({
      method: 'POST',
      path: auditPath(),
      body: {
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImageAudit',
        metadata: { name },
        spec: {
          schedule: '0 0 1 1 *',
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          notify: { alertmanager: { url, labels: { team: 'platform' } }, when: 'OnViolation' },
        },
      },
    });
  const runNow = (name: string, value: string): Promise<unknown> =>
    kube().call({
      method: 'PATCH',
      path: auditPath(name),
      body: { metadata: { annotations: { 'sigwatch.dev/run-now': value } } },
    });
  const status = async (name: string): Promise<Conditions> =>
    ((await kube().call({ method: 'GET', path: auditPath(name) })) as { status?: Conditions }).status ?? {};
  const condition = async (
    name: string,
    type: string,
  ): Promise<{ status: string; reason: string } | undefined> =>
    (await status(name)).conditions?.find((c) => c.type === type);

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    am = await startAlertmanager('5s');
    operatorNs = await freshNamespace('am-op');
    ns = await freshNamespace('am');
    const key = await generateKeyPair();
    const unsigned = await pushRandomImage(testEnv().registry, `${randomRepo('alerts')}/unsigned`);
    await policies.create(
      `alerts-${ns}`,
      enforceIn(
        ns,
        [`${testEnv().registry}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    await runningPod(ns, 'bad', unsigned.ref);
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--no-leader-election',
      '--alertmanager-url-allowlist',
      am.url,
      '--alertmanager-url-allowlist',
      dead,
    ]);
  });

  after(async () => {
    await policies.deleteAll();
    await am.stop();
    expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
  });

  it('fires with its labels, stays firing past resolve_timeout, and is resolved by a clean run', async () => {
    await create('monthly', am.url);
    await runNow('monthly', '1');
    const [alert] = await eventually('the alert', async () => {
      const alerts = await am.activeAlerts('SigwatchAuditNonCompliant');
      return alerts.length > 0 ? alerts : undefined;
    });
    expect(alert?.labels).to.deep.equal({
      alertname: 'SigwatchAuditNonCompliant',
      audit_namespace: operatorNs,
      audit: 'monthly',
      severity: 'critical',
      team: 'platform',
    });
    // The status is written after the notification went out: wait for it rather than race it.
    await eventually('NotificationFailed=False on the audit', async () =>
      (await condition('monthly', 'NotificationFailed'))?.status === 'False' ? true : undefined,
    );
    // Well past resolve_timeout (5 s): still firing, because endsAt lies minutes ahead.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(await am.activeAlerts('SigwatchAuditNonCompliant')).to.have.length(1);

    // The violation goes away; the next run is clean and resolves the alert.
    await kubeConfig().makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace: ns, name: 'bad' });
    await runNow('monthly', '2');
    await eventually('the alert resolved', async () =>
      (await am.activeAlerts('SigwatchAuditNonCompliant')).length === 0 ? true : undefined,
    );
  });

  it('keeps the audit successful when Alertmanager cannot be reached or is not allow-listed', async () => {
    await runningPod(
      ns,
      'bad-again',
      (await pushRandomImage(testEnv().registry, `${randomRepo('alerts')}/u2`)).ref,
    );
    await create('unreachable', dead);
    await create('elsewhere', 'http://alertmanager.example:9093');
    await Promise.all([runNow('unreachable', '1'), runNow('elsewhere', '1')]);
    for (const [name, reason] of [
      ['unreachable', 'Unreachable'],
      ['elsewhere', 'URLNotAllowed'],
    ] as const) {
      const failed = await eventually(`${name}: NotificationFailed`, async () => {
        const c = await condition(name, 'NotificationFailed');
        return c?.status === 'True' ? c : undefined;
      });
      expect(failed.reason).to.equal(reason);
      expect((await condition(name, 'Succeeded'))?.status, 'the audit itself succeeded').to.equal('True');
    }
  });
});
