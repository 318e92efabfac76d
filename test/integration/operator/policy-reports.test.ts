/**
 * `sigwatch run --policy-reports` against the upstream PolicyReport CRD
 * (vendored from Kyverno, test/fixtures/kyverno-crds): the API server
 * accepts what Sigwatch writes (enums, types, strict field validation), a
 * report follows a verdict change while other namespaces' reports are left
 * alone, and goes when its namespace's pods go. Then the writer in process,
 * with only the rights of config/policy-reports: enough for all it does, and
 * it never overwrites a report it does not manage.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import type { Logger } from '../../../src/operator/kube/logger.js';
import { trimPod, type TrimmedPod } from '../../../src/operator/pod.js';
import { buildPolicyReport, type PolicyReport } from '../../../src/operator/policy-reports/build.js';
import { PolicyReportWriter } from '../../../src/operator/policy-reports/writer.js';
import { auditedWrites, type AuditedWrite } from '../../support/audit-log.js';
import { containerResult } from '../../support/container-results.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import {
  applyCrd,
  freshNamespace,
  kubeConfig,
  mintToken,
  kubeConnection,
  kubeConnectionWithToken,
} from '../../support/kube.js';
import { PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { policyReportCrd } from '../../support/policy-report-crd.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const admin = (): KubeHttp => new KubeHttp(kubeConnection());
const reportPath = (ns: string, name = 'sigwatch'): string =>
  `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${ns}/policyreports/${name}`;

interface StoredReport {
  metadata: {
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  results: (PolicyReport['results'][number] & { timestamp: { seconds: number; nanos: number } })[];
  summary: Record<string, number>;
}

async function stored(ns: string, name = 'sigwatch'): Promise<StoredReport | undefined> {
  return (await admin().getOptional(reportPath(ns, name))) as StoredReport | undefined;
}

/** Waits until the namespace's report satisfies `ok`, and returns it. */
function reportWhen(ns: string, ok: (r: StoredReport) => boolean, timeoutMs = 30_000): Promise<StoredReport> {
  return eventually(
    `the PolicyReport of ${ns}`,
    async () => {
      const r = await stored(ns);
      return r !== undefined && ok(r) ? r : undefined;
    },
    timeoutMs,
  );
}

/** Writes to PolicyReports since `fromMs`, from the API server's audit log. */
async function reportWrites(fromMs: number): Promise<AuditedWrite[]> {
  return (await auditedWrites()).filter((w) => w.resource === 'policyreports' && w.at >= fromMs);
}

const byPod = (r: StoredReport): Record<string, string> =>
  Object.fromEntries(r.results.map((x) => [x.resources[0]?.name ?? '', x.result]));

describe('operator: --policy-reports', function () {
  this.timeout(180_000);

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    await applyCrd(policyReportCrd());
  });

  describe('sigwatch run', () => {
    const policies = new PolicyObjects();
    let operator: OperatorProcess;
    let outage: TcpRelay;
    let a: string;
    let b: string;

    before(async () => {
      const operatorNs = await freshNamespace('polrep-op');
      a = await freshNamespace('polrep-a');
      b = await freshNamespace('polrep-b');
      // Signed, but only reachable through a relay that stays cut: Unknown, which must not read as fail.
      outage = await startTcpRelay(testEnv().registry, { startCut: true });
      operator = await startOperatorProcess([
        '--namespace',
        operatorNs,
        '--insecure-registry',
        testEnv().registry,
        '--insecure-registry',
        outage.address,
        '--no-leader-election',
        '--policy-reports',
      ]);
    });

    after(async () => {
      await policies.deleteAll();
      await outage.close();
      expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
    });

    it('writes one report per namespace that the upstream CRD accepts, follows a verdict change there only, and deletes it when the pods go', async () => {
      const registry = testEnv().registry;
      const repo = randomRepo('polrep');
      const key = await generateKeyPair();
      const [signed, unsigned, unreachable] = await Promise.all([
        pushRandomImage(registry, `${repo}/signed`),
        pushRandomImage(registry, `${repo}/unsigned`),
        pushRandomImage(registry, `${repo}/unreachable`),
      ]);
      await Promise.all([sign(signed.ref, key, 'bundle'), sign(unreachable.ref, key, 'bundle')]);
      const publicKey = await readFile(key.pub, 'utf8');
      const spec = (exceptions: unknown[]): Record<string, unknown> => ({
        mode: 'Audit',
        match: {
          images: [`${registry}/${repo}/**`, `${outage.address}/${repo}/**`],
          namespaceSelector: {
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [a, b] }],
          },
        },
        authorities: [{ name: 'k', key: { publicKey } }],
        exceptions,
      });
      const policy = `polrep-${a}`;
      await policies.create(policy, spec([]));
      await Promise.all([
        runningPod(a, 'signed', signed.ref),
        runningPod(a, 'unsigned', unsigned.ref),
        runningPod(a, 'unreachable', unreachable.ref.replace(registry, outage.address)),
        runningPod(b, 'signed', signed.ref),
      ]);

      const first = await reportWhen(a, (r) => r.results.length === 3);
      expect(byPod(first)).to.deep.equal({ signed: 'pass', unsigned: 'fail', unreachable: 'error' });
      expect(first.summary).to.deep.equal({ pass: 1, fail: 1, warn: 0, error: 1, skip: 0 });
      expect(first.metadata.labels).to.deep.equal({ 'app.kubernetes.io/managed-by': 'sigwatch' });
      // Everything Sigwatch sent came back: nothing was pruned as unknown to the upstream schema.
      const fail = first.results.find((x) => x.result === 'fail');
      expect(fail).to.deep.include({
        source: 'sigwatch',
        policy,
        rule: 'image-verdict',
        category: 'Software Supply Chain Security',
        severity: 'high',
        scored: true,
      });
      expect(fail?.resources).to.have.length(1);
      expect(fail?.resources[0]).to.deep.include({
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: a,
        name: 'unsigned',
        fieldPath: 'spec.containers{app}',
      });
      expect(fail?.properties).to.deep.equal({
        container: 'app',
        image: unsigned.ref,
        digest: unsigned.digest,
        verdict: 'NonCompliant',
        reasons: 'SignatureMissing',
      });
      expect(fail?.message).to.match(/^NonCompliant \(SignatureMissing\)/);
      expect(fail?.timestamp.nanos).to.equal(0);
      expect(Math.abs(Date.now() / 1000 - (fail?.timestamp.seconds ?? 0))).to.be.lessThan(120);
      expect(first.results.find((x) => x.result === 'error')?.properties['reasons']).to.equal(
        'RegistryUnavailable',
      );
      const inB = await reportWhen(b, (r) => r.results.length === 1);
      expect(byPod(inB)).to.deep.equal({ signed: 'pass' });
      // The CRD's printer columns read the summary.
      const { stdout } = await exec('kubectl', ['get', 'policyreports', '-n', a]);
      const [header, row] = stdout.split('\n');
      expect(header?.split(/\s+/)).to.deep.equal([
        'NAME',
        'KIND',
        'NAME',
        'PASS',
        'FAIL',
        'WARN',
        'ERROR',
        'SKIP',
        'AGE',
      ]);
      // No scope (the report covers its namespace): KIND and NAME are empty.
      expect(row, stdout).to.match(/^sigwatch\s+1\s+1\s+0\s+1\s+0\s+\d+s$/);

      // A verdict change (an exception) reaches a's report; b's, unchanged, is not written again. The
      // API server's audit log counts writes: a PUT of identical content would not move resourceVersion.
      const editedAt = Date.now();
      const expires = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
      await policies.replaceSpec(
        policy,
        spec([{ images: [`${registry}/${repo}/unsigned`], reason: 'SEC-1', expires }]),
      );
      const changed = await reportWhen(a, (r) => byPod(r)['unsigned'] === 'skip');
      expect(changed.summary).to.deep.equal({ pass: 1, fail: 0, warn: 0, error: 1, skip: 1 });
      expect(byPod(changed)).to.deep.equal({ signed: 'pass', unsigned: 'skip', unreachable: 'error' });
      // Past the writer's debounce (3 s) with room to spare: a rewrite of b would show by now.
      await new Promise((r) => setTimeout(r, 5_000));
      const since = await reportWrites(editedAt);
      expect(since.filter((w) => w.namespace === a).map((w) => w.verb)).to.include('update');
      expect(since.filter((w) => w.namespace === b)).to.deep.equal([]);

      await kubeConfig().makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace: b, name: 'signed' });
      await eventually(
        `b's report deleted`,
        async () => ((await stored(b)) === undefined ? true : undefined),
        30_000,
      );
      expect((await stored(a))?.results).to.have.length(3);
    });
  });

  describe('the writer with only the rights of config/policy-reports', () => {
    const cleanup: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const undo of cleanup.reverse()) await undo().catch(() => undefined);
    });

    /** config/default with the component, rendered by the environment's kubectl (its kustomize). */
    async function renderWithComponent(): Promise<Record<string, unknown>[]> {
      const dir = await mkdtemp(join(tmpdir(), 'sigwatch-polrep-'));
      cleanup.push(() => rm(dir, { recursive: true, force: true }));
      const config = relative(dir, join(root, 'config'));
      await writeFile(
        join(dir, 'kustomization.yaml'),
        `resources: [${config}/default]\ncomponents: [${config}/policy-reports]\n`,
      );
      const { stdout } = await exec('kubectl', ['kustomize', dir]);
      return parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown>);
    }

    it('adds the flag to the Deployment; its ClusterRole lets the writer create, update, list and delete, and a foreign report is left alone', async () => {
      const docs = await renderWithComponent();
      const named = (kind: string, name: string): Record<string, unknown> | undefined =>
        docs.find((d) => d['kind'] === kind && (d['metadata'] as { name?: string }).name === name);
      const deployment = named('Deployment', 'sigwatch') as
        { spec: { template: { spec: { containers: { args: string[] }[] } } } } | undefined;
      expect(deployment?.spec.template.spec.containers[0]?.args).to.include('--policy-reports');
      const role = named('ClusterRole', 'sigwatch-policy-reports') as { rules: unknown[] } | undefined;
      expect(role?.rules).to.have.length(1);

      // The component's rules, under a name of this test's own, bound to a service account of its own:
      // the real binding names sigwatch-system/sigwatch, whose rights the install test checks.
      const ns = await freshNamespace('polrep-rbac');
      const other = await freshNamespace('polrep-foreign');
      const name = `sigwatch-polrep-test-${ns}`;
      const rbac = '/apis/rbac.authorization.k8s.io/v1';
      const objects: [string, Record<string, unknown>][] = [
        ['clusterroles', { kind: 'ClusterRole', rules: role?.rules }],
        [
          'clusterrolebindings',
          {
            kind: 'ClusterRoleBinding',
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
            subjects: [{ kind: 'ServiceAccount', name: 'report-writer', namespace: ns }],
          },
        ],
      ];
      for (const [plural, body] of objects) {
        const object = { apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name }, ...body };
        await admin().call({ method: 'POST', path: `${rbac}/${plural}`, body: object });
        cleanup.push(() => admin().send({ method: 'DELETE', path: `${rbac}/${plural}/${name}` }));
      }
      const asWriter = new KubeHttp(kubeConnectionWithToken(await mintToken(ns, 'report-writer')));

      // A report named sigwatch that someone else manages: never overwritten.
      const foreign = {
        apiVersion: 'wgpolicyk8s.io/v1alpha2',
        kind: 'PolicyReport',
        metadata: { name: 'sigwatch' },
        results: [],
      };
      await admin().call({
        method: 'POST',
        path: `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${other}/policyreports`,
        body: foreign,
      });
      const foreignVersion = (await stored(other))?.metadata.resourceVersion;

      const warnings: string[] = [];
      const logger: Logger = {
        info: () => undefined,
        debug: () => undefined,
        error: (m) => warnings.push(m),
        warn: (m, meta) => warnings.push(`${m} ${JSON.stringify(meta)}`),
      };
      const writer = (): PolicyReportWriter =>
        new PolicyReportWriter({
          kube: asWriter,
          logger,
          mayWrite: () => true,
          debounceMs: 3_600_000,
          retryMs: 1,
        });
      const first = writer();
      cleanup.push(() => {
        first.stop();
        return Promise.resolve();
      });
      first.resync();
      first.setPod(`${ns}/web-1`, testPod(ns, 'web-1'), [containerResult('NonCompliant')], true);
      first.setPod(`${ns}/web-2`, testPod(ns, 'web-2'), [containerResult('Compliant')], true);
      first.setPod(`${other}/web-1`, testPod(other, 'web-1'), [containerResult('Compliant')], true);
      // The new binding reaches the authorizer's cache within moments; until then writes are refused and retried.
      const created = await eventually(`the report in ${ns}`, async () => {
        await first.flush();
        return stored(ns);
      });
      expect(byPod(created)).to.deep.equal({ 'web-1': 'fail', 'web-2': 'pass' });
      expect((await stored(other))?.metadata.resourceVersion).to.equal(foreignVersion);
      expect(warnings.some((w) => w.includes('is not managed by Sigwatch'))).to.equal(true);

      first.setPod(`${ns}/web-2`, testPod(ns, 'web-2'), [containerResult('Unknown')], true);
      await first.flush();
      expect((await stored(ns))?.summary).to.deep.equal({ pass: 0, fail: 1, warn: 0, error: 1, skip: 0 });

      // What the builder makes passes strict field validation: no field the upstream schema lacks.
      const built = buildPolicyReport(
        ns,
        [{ pod: testPod(ns, 'web-1'), results: [containerResult('Exempt')], complete: true }],
        new Map(),
        new Date(),
      ).report;
      const dry = await admin().send({
        method: 'POST',
        path: `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${ns}/policyreports?dryRun=All&fieldValidation=Strict`,
        body: { ...built, metadata: { ...built?.metadata, name: 'strict-check' } },
      });
      expect(dry.status, JSON.stringify(dry.body)).to.equal(201);

      // A new leader lists what exists: the same content is not written again.
      first.stop();
      const firstWrites = await reportWrites(0);
      // Positive control: the audit log sees this namespace's writes (create, update).
      expect(firstWrites.filter((w) => w.namespace === ns).map((w) => w.verb)).to.include.members([
        'create',
        'update',
      ]);
      const secondFrom = Date.now();
      const second = writer();
      cleanup.push(() => {
        second.stop();
        return Promise.resolve();
      });
      second.setPod(`${ns}/web-1`, testPod(ns, 'web-1'), [containerResult('NonCompliant')], true);
      second.setPod(`${ns}/web-2`, testPod(ns, 'web-2'), [containerResult('Unknown')], true);
      warnings.length = 0;
      second.resync();
      await second.flush();
      // It did list and compare (a failed list would also write nothing, and say so).
      expect(warnings).to.deep.equal([]);
      expect((await reportWrites(secondFrom)).filter((w) => w.namespace === ns)).to.deep.equal([]);

      // The pods go: so does the report.
      second.setPod(`${ns}/web-1`, undefined, [], true);
      second.setPod(`${ns}/web-2`, undefined, [], true);
      await second.flush();
      expect(await stored(ns)).to.equal(undefined);
      expect((await stored(other))?.metadata.resourceVersion).to.equal(foreignVersion);
    });
  });
});

function testPod(namespace: string, name: string): TrimmedPod {
  const pod = trimPod({
    metadata: { namespace, name, uid: `uid-${name}` },
    spec: { containers: [{ name: 'app', image: 'reg.test/web:1' }] },
    status: { phase: 'Running' },
  });
  if (pod === undefined) throw new Error('fixture');
  return pod;
}
