/**
 * ImageAudits end to end (design §2): `sigwatch run` as a child process
 * runs them on their cron schedule, catches up once after downtime, runs on
 * `sigwatch.dev/run-now`, restricts a namespaced audit to its namespace, and
 * stores its report in ConfigMaps that read back whole — also at 10,000 pods.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { buildReport, renderTable, type AuditReport } from '../../../src/audit/report.js';
import { partBytes, readReport, reportConfigMaps, writeReport } from '../../../src/operator/audit-reports.js';
import { allCrds } from '../../../src/operator/crds.js';
import { KubeHttp } from '../../../src/operator/kube-http.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig } from '../../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

interface AuditStatus {
  lastScheduleTime?: string;
  lastCompletionTime?: string;
  nextScheduleTime?: string;
  history?: { time: string; compliancePercent: number; nonCompliant: number }[];
  lastResult?: Record<string, unknown>;
  conditions?: { type: string; status: string; message: string }[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('operator: ImageAudits', function () {
  this.timeout(300_000);
  const kube = (): KubeHttp => new KubeHttp(kubeConfig());
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
      const reportName = String(first.lastResult?.['reportConfigMap']);
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
      const cm = (await kube().call({
        method: 'GET',
        path: `/api/v1/namespaces/${operatorNs}/configmaps/${reportName}`,
      })) as { data: Record<string, string> };
      expect(cm.data['report.txt']).to.match(/^=== SUPPLY-CHAIN AUDIT minutely /);
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

    it('runs when sigwatch.dev/run-now changes, and restricts an audit outside the operator namespace to its own', async () => {
      await createAudit(ns, 'tenant', {
        schedule: '0 0 1 1 *',
        // Ignored here: a tenant's audit must not read the rest of the cluster.
        namespaceSelector: {},
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
      const report = await readReport(kube(), ns, String(s.lastResult?.['reportConfigMap']));
      expect(report.entries.flatMap((e) => e.pods).every((p) => p.startsWith(`${ns}/`))).to.equal(true);
      expect(report.images).to.equal(2);
      // The same value again is no new request; a new value is.
      await sleep(3_000);
      expect((await status(ns, 'tenant')).history).to.have.length(1);
      await kube().call({
        method: 'PATCH',
        path: auditPath(ns, 'tenant'),
        body: { metadata: { annotations: { 'sigwatch.dev/run-now': '2' } } },
      });
      await eventually('a second run', async () =>
        (await status(ns, 'tenant')).history?.length === 2 ? true : undefined,
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

  it('stores a 10,000-pod report in ConfigMaps, split above 900 KiB, and reads it back whole', async () => {
    const hex = (n: number): string => randomBytes(n).toString('hex');
    const big = (images: number, podsPerImage: number): AuditReport =>
      buildReport({
        audit: { namespace: operatorNs, name: 'big' },
        time: new Date(),
        images: Array.from({ length: images }, () => ({
          image: `registry.example/app-${hex(4)}@sha256:${hex(32)}`,
          references: [`registry.example/app:${hex(3)}`],
          pods: Array.from({ length: podsPerImage }, () => `ns-${hex(2)}/pod-${hex(6)}`),
          verdicts: [
            {
              policy: 'p',
              verdict: 'NonCompliant',
              reasons: ['SignatureMissing'],
              findings: [],
              signers: [],
            },
          ],
          signedSbom: false,
        })),
        unmatchedPods: [],
      });
    const owner = {
      namespace: operatorNs,
      name: 'big',
      uid: (
        (await createAudit(operatorNs, 'big', { schedule: '0 0 1 1 *', suspend: true })) as {
          metadata: { uid: string };
        }
      ).metadata.uid,
    };
    for (const [name, report] of [
      ['big-10000-pods', big(1_000, 10)],
      ['big-split', big(6_000, 10)],
    ] as const) {
      const maps = reportConfigMaps(owner, name, report, renderTable(report));
      if (name === 'big-split') expect(maps.length, 'parts').to.be.greaterThan(1);
      for (const m of maps)
        expect(
          Buffer.from(
            (m as { binaryData: Record<string, string> }).binaryData['report.json.gz'] ?? '',
            'base64',
          ).length,
        ).to.be.at.most(partBytes);
      await writeReport(kube(), maps);
      const back = await readReport(kube(), operatorNs, name);
      expect(back).to.deep.equal(JSON.parse(JSON.stringify(report)));
      expect(back.entries.reduce((n, e) => n + e.pods.length, 0)).to.equal(report.images * 10);
    }
  });
});
