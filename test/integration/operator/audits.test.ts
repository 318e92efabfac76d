/**
 * ImageAudits end to end (design §2): `sigwatch run` as a child process
 * runs them on their cron schedule, catches up once after downtime, runs on
 * `sigwatch.dev/run-now`, restricts a namespaced audit to its namespace, and
 * stores its report as an ImageAuditReport in the audit's namespace that a
 * namespace viewer can read (storage in parts, pruning and bounds:
 * audit-reports.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { readReport } from '../../../src/operator/audits/reports.js';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConnection } from '../../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

interface AuditStatus {
  lastScheduleTime?: string;
  lastRunNow?: string;
  lastCompletionTime?: string;
  nextScheduleTime?: string;
  history?: { time: string; compliancePercent: number; nonCompliant: number }[];
  lastResult?: Record<string, unknown>;
  conditions?: { type: string; status: string; message: string }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** kubectl as the test environment's admin, or impersonating `as`; rejects on a non-zero exit. */
const kubectl = (args: string[], as?: string): Promise<{ stdout: string }> =>
  exec('kubectl', [...args, ...(as === undefined ? [] : ['--as', as])], {
    env: { KUBECONFIG: testEnv().kubeconfig },
  });
/** kubectl's error output, or undefined when it succeeded. */
const refusal = async (args: string[], as: string): Promise<string | undefined> => {
  try {
    await kubectl(args, as);
    return undefined;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
};

describe('operator: ImageAudits', function () {
  this.timeout(300_000);
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  const policies = new PolicyObjects();
  let operatorNs: string;
  let ns: string;
  let args: string[];

  const auditPath = (namespace: string, name = ''): string =>
    `/apis/sigwatch.dev/v1alpha1/namespaces/${namespace}/imageaudits${name === '' ? '' : `/${name}`}`;
  const createAudit = (namespace: string, name: string, spec: object): Promise<unknown> =>
    kube().call({
      method: 'POST',
      path: auditPath(namespace),
      body: { apiVersion: 'sigwatch.dev/v1alpha1', kind: 'ImageAudit', metadata: { name }, spec },
    });
  const status = async (namespace: string, name: string): Promise<AuditStatus> =>
    ((await kube().call({ method: 'GET', path: auditPath(namespace, name) })) as { status?: AuditStatus })
      .status ?? {};

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    operatorNs = await freshNamespace('audit-op');
    ns = await freshNamespace('audited');
    const key = await generateKeyPair();
    const repo = randomRepo('audits');
    const [good, bad] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/good`),
      pushRandomImage(testEnv().registry, `${repo}/bad`),
    ]);
    await sign(good.ref, key, 'bundle');
    await policies.create(
      `audited-${ns}`,
      enforceIn(
        ns,
        [`${testEnv().registry}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    await Promise.all([runningPod(ns, 'good', good.ref), runningPod(ns, 'bad', bad.ref)]);
    args = ['--namespace', operatorNs, '--insecure-registry', testEnv().registry, '--no-leader-election'];
  });

  after(() => policies.deleteAll());

  describe('with the operator running', () => {
    let operator: OperatorProcess;
    before(async () => {
      operator = await startOperatorProcess(args);
    });
    after(async () => {
      expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
    });

    it('runs at the scheduled minute (within 5 s), once, and stores a report that reads back', async () => {
      // The next minute that is at least 15 s away, in UTC.
      const at = new Date(Math.ceil((Date.now() + 15_000) / 60_000) * 60_000);
      await createAudit(operatorNs, 'minutely', {
        schedule: `${String(at.getUTCMinutes())} ${String(at.getUTCHours())} * * *`,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      });
      const first = await eventually(
        'the scheduled run',
        async () => {
          const s = await status(operatorNs, 'minutely');
          return s.lastCompletionTime === undefined ? undefined : s;
        },
        at.getTime() - Date.now() + 30_000,
      );
      expect(first.lastScheduleTime).to.equal(at.toISOString());
      const reportName = String(first.lastResult?.['reportName']);
      // The report's name carries the run's start (UTC, to the second): within 5 s of the minute.
      const started = /-(\d{8})-(\d{6})$/.exec(reportName);
      expect(started, reportName).to.not.equal(null);
      const startedAt = Date.parse(
        `${started?.[1]?.slice(0, 4) ?? ''}-${started?.[1]?.slice(4, 6) ?? ''}-${started?.[1]?.slice(6, 8) ?? ''}T${started?.[2]?.slice(0, 2) ?? ''}:${started?.[2]?.slice(2, 4) ?? ''}:${started?.[2]?.slice(4, 6) ?? ''}Z`,
      );
      expect(startedAt - at.getTime()).to.be.within(0, 5_000);
      expect(first.lastResult).to.deep.include({
        images: 2,
        signed: 1,
        compliant: 1,
        nonCompliant: 1,
        compliancePercent: 50,
      });
      const report = await readReport(kube(), operatorNs, reportName);
      expect(report.entries.map((e) => e.pods.join())).to.deep.equal([`${ns}/bad`, `${ns}/good`]);
      // An ImageAuditReport in the audit's namespace, owned (controller) by the audit.
      const stored = (await kube().call({
        method: 'GET',
        path: `/apis/sigwatch.dev/v1alpha1/namespaces/${operatorNs}/imageauditreports/${reportName}`,
      })) as { metadata: { ownerReferences?: object[] } };
      const audit = (await kube().call({ method: 'GET', path: auditPath(operatorNs, 'minutely') })) as {
        metadata: { uid: string };
      };
      expect(stored.metadata.ownerReferences).to.deep.include({
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImageAudit',
        name: 'minutely',
        uid: audit.metadata.uid,
        controller: true,
      });
      // kubectl prints its summary in the printer columns.
      const table = (
        await kubectl(['get', 'imageauditreports', '-n', operatorNs, '-l', 'sigwatch.dev/audit=minutely'])
      ).stdout.split('\n');
      expect(table[0]?.split(/\s+/)).to.deep.equal([
        'NAME',
        'IMAGES',
        'SIGNED',
        'COMPLIANT',
        'RESULT',
        'AGE',
      ]);
      expect(table[1]?.split(/\s+/).slice(0, 5)).to.deep.equal([reportName, '2', '1', '1', 'NonCompliant']);
      const metrics = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
      expect(metrics).to.contain(
        `sigwatch_audit_runs_total{namespace="${operatorNs}",audit="minutely",result="success"} 1`,
      );
      expect(metrics).to.contain(
        `sigwatch_audit_compliance_ratio{namespace="${operatorNs}",audit="minutely"} 0.5`,
      );

      // The following minute: no second run.
      await sleep(Math.max(0, at.getTime() + 65_000 - Date.now()));
      const later = await status(operatorNs, 'minutely');
      expect(later.history).to.have.length(1);
      expect(later.lastScheduleTime).to.equal(first.lastScheduleTime);
    });

    it('runs when sigwatch.dev/run-now changes, restricts an audit outside the operator namespace to its own, keeps historyLimit reports', async () => {
      await createAudit(ns, 'tenant', {
        schedule: '0 0 1 1 *',
        // Ignored here: a tenant's audit must not read the rest of the cluster.
        namespaceSelector: {},
        historyLimit: 1,
      });
      await kube().call({
        method: 'PATCH',
        path: auditPath(ns, 'tenant'),
        body: { metadata: { annotations: { 'sigwatch.dev/run-now': '1' } } },
      });
      const s = await eventually('the run-now run', async () => {
        const st = await status(ns, 'tenant');
        return st.lastCompletionTime === undefined ? undefined : st;
      });
      expect(s.conditions?.find((c) => c.type === 'ScopeRestricted')?.status).to.equal('True');
      const firstReport = String(s.lastResult?.['reportName']);
      const report = await readReport(kube(), ns, firstReport);
      expect(report.entries.flatMap((e) => e.pods).every((p) => p.startsWith(`${ns}/`))).to.equal(true);
      expect(report.images).to.equal(2);
      // The same value again is no new request; a new value is, however long (the status keeps its hash).
      await sleep(3_000);
      expect((await status(ns, 'tenant')).history).to.have.length(1);
      const long = `2-${'x'.repeat(4_000)}`;
      await kube().call({
        method: 'PATCH',
        path: auditPath(ns, 'tenant'),
        body: { metadata: { annotations: { 'sigwatch.dev/run-now': long } } },
      });
      const hashed = `sha256:${createHash('sha256').update(long).digest('hex')}`;
      // historyLimit 1: the history keeps one entry, so the second run shows as a new report.
      const second = await eventually('a second run', async () => {
        const st = await status(ns, 'tenant');
        return st.lastRunNow === hashed && st.lastResult?.['reportName'] !== firstReport ? st : undefined;
      });
      expect(second.history).to.have.length(1);
      // historyLimit 1: only the second run's report is left.
      const secondReport = String(second.lastResult?.['reportName']);
      expect(secondReport).to.not.equal(firstReport);
      const names = (
        (await kube().call({
          method: 'GET',
          path: `/apis/sigwatch.dev/v1alpha1/namespaces/${ns}/imageauditreports`,
        })) as { items: { metadata: { name: string } }[] }
      ).items.map((i) => i.metadata.name);
      expect(names).to.deep.equal([secondReport]);
    });

    it('lets a user bound to a namespace Role on imageauditreports read them there, and nowhere else', async () => {
      const s = await eventually('a tenant report', async () => {
        const st = await status(ns, 'tenant');
        return st.lastResult?.['reportName'] === undefined ? undefined : st;
      });
      const reportName = String(s.lastResult?.['reportName']);
      const user = `viewer-${randomBytes(3).toString('hex')}`;
      await kubectl([
        'create',
        'role',
        'report-reader',
        '-n',
        ns,
        '--verb=get,list',
        '--resource=imageauditreports.sigwatch.dev',
      ]);
      await kubectl([
        'create',
        'rolebinding',
        'report-reader',
        '-n',
        ns,
        '--role=report-reader',
        `--user=${user}`,
      ]);
      const listed = JSON.parse(
        (await kubectl(['get', 'imageauditreports', '-n', ns, '-o', 'json'], user)).stdout,
      ) as {
        items: { metadata: { name: string } }[];
      };
      expect(listed.items.map((i) => i.metadata.name)).to.deep.equal([reportName]);
      const one = JSON.parse(
        (await kubectl(['get', 'imageauditreport', reportName, '-n', ns, '-o', 'json'], user)).stdout,
      ) as { summary: { images: number; result: string } };
      expect(one.summary).to.deep.include({ images: 2, result: 'NonCompliant' });
      // Another namespace, all namespaces, and the ConfigMaps of its own namespace: refused.
      for (const args of [
        ['get', 'imageauditreports', '-n', operatorNs],
        ['get', 'imageauditreports', '-A'],
        ['get', 'configmaps', '-n', ns],
      ])
        expect(await refusal(args, user), args.join(' ')).to.match(/\(Forbidden\)/);
      // A user without the binding sees nothing in the namespace either.
      expect(await refusal(['get', 'imageauditreports', '-n', ns], `${user}-unbound`)).to.match(
        /\(Forbidden\)/,
      );
    });

    it('reports a bad cron expression as not Ready with its field path', async () => {
      await createAudit(operatorNs, 'broken', { schedule: '61 * * * *' });
      const ready = await eventually('Ready=False', async () =>
        (await status(operatorNs, 'broken')).conditions?.find(
          (c) => c.type === 'Ready' && c.status === 'False',
        ),
      );
      expect(ready.message).to.contain('spec.schedule');
    });
  });

  it('catches up once for the times missed while the operator was down', async () => {
    // Every minute: created while no operator runs, two scheduled minutes pass.
    await createAudit(operatorNs, 'catch-up', {
      schedule: '* * * * *',
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
    });
    // Two minute boundaries after creation, plus 2 s (the next boundary is then about 58 s away).
    const secondBoundary = (Math.floor(Date.now() / 60_000) + 2) * 60_000;
    await sleep(secondBoundary + 2_000 - Date.now());
    const operator = await startOperatorProcess(args);
    try {
      const s = await eventually('the catch-up run', async () => {
        const st = await status(operatorNs, 'catch-up');
        return st.lastCompletionTime === undefined ? undefined : st;
      });
      expect(s.history, 'one run for several missed times').to.have.length(1);
      expect(s.lastScheduleTime, 'for the latest missed time').to.equal(
        new Date(secondBoundary).toISOString(),
      );
    } finally {
      expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
    }
  });
});
