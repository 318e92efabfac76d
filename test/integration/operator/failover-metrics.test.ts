/**
 * Leader-only series after a failover without a restart (issue 19, defect
 * 2): `sigwatch_pods` and `sigwatch_images` are the leader's counts, and
 * the alert rules and dashboard `sum by (policy)` over every replica. A
 * leader paused past its lease (as under a long GC pause or a partition)
 * resumes as a follower; it must export none of those series, or its last
 * values — here an Unknown pod from a registry outage — are added to the
 * new leader's and SigwatchEvidenceUnavailable keeps firing. Two real
 * replicas with leader election; the alert rules run with promtool on the
 * series scraped from both.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';
import { allCrds } from '../../../src/operator/crds/crds.js';

const rulesFile = fileURLToPath(new URL('../../../config/prometheus/rules.yaml', import.meta.url));

describe('operator: leader-only series after a failover', function () {
  this.timeout(180_000);
  const replicas: OperatorProcess[] = [];
  const policies = new PolicyObjects();
  let proxy: CountingProxy | undefined;
  let registryDown = true;

  after(async () => {
    for (const r of replicas) {
      r.resume();
      await r.stop();
    }
    await policies.deleteAll();
    await proxy?.close();
  });

  it('a former leader exports no pod or image counts, so the rules see only the new leader’s', async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const operatorNs = await freshNamespace('failover');
    const appNs = await freshNamespace('failover-app');
    const key = await generateKeyPair();
    const img = await pushRandomImage(testEnv().registry, randomRepo('failover'));
    await sign(img.ref, key, 'bundle');
    // The registry as the operators see it: down (503) until the test brings it back.
    proxy = await startCountingProxy(testEnv().registry, {
      failWith: () => (registryDown ? 503 : undefined),
    });
    const ref = img.ref.replace(testEnv().registry, proxy.address);
    const policy = `failover-${appNs}`;
    await policies.create(
      policy,
      enforceIn(
        appNs,
        [`${proxy.address}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    await runningPod(appNs, 'app', ref);
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
    replicas.push(await startOperatorProcess(args('a')), await startOperatorProcess(args('b')));
    const scrape = async (r: OperatorProcess): Promise<string> =>
      (await fetch(`http://127.0.0.1:${String(r.probePort)}/metrics`)).text();
    const leading = async (r: OperatorProcess): Promise<boolean> =>
      /^sigwatch_leader 1$/m.test(await scrape(r));
    const series = (text: string): string[] =>
      text.split('\n').filter((l) => /^sigwatch_(pods|images)\{/.test(l) && l.includes(`policy="${policy}"`));
    const [a, b] = replicas as [OperatorProcess, OperatorProcess];
    const first = await eventually('a leader', async () =>
      (await leading(a)) ? a : (await leading(b)) ? b : undefined,
    );
    const second = first === a ? b : a;
    await eventually('the pod Unknown while the registry is down', async () =>
      (await podMarks(appNs, 'app')).label === 'unknown' ? true : undefined,
    );
    await eventually('the leader counting it', async () =>
      series(await scrape(first)).includes(`sigwatch_pods{policy="${policy}",verdict="Unknown"} 1`)
        ? true
        : undefined,
    );
    expect(series(await scrape(second)), 'a follower exports no counts').to.deep.equal([]);

    // The registry comes back while the leader is frozen past its lease; the other replica takes over.
    registryDown = false;
    first.pause();
    await eventually(
      'the other replica leading',
      async () => ((await leading(second)) ? true : undefined),
      20_000,
    );
    first.resume();
    await eventually(
      'the former leader stepping down',
      async () => ((await leading(first)) ? undefined : true),
      20_000,
    );
    await eventually('the pod Compliant under the new leader', async () =>
      (await podMarks(appNs, 'app')).label === 'compliant' ? true : undefined,
    );
    await eventually('the new leader counting it', async () =>
      series(await scrape(second)).includes(`sigwatch_pods{policy="${policy}",verdict="Compliant"} 1`)
        ? true
        : undefined,
    );
    expect(series(await scrape(first)), 'the former leader exports no counts').to.deep.equal([]);

    // The shipped rules over what a Prometheus scraping both replicas would hold for the next two hours.
    const inputSeries = [
      ...series(await scrape(first)).map((l) => ({ l, instance: 'first' })),
      ...series(await scrape(second)).map((l) => ({ l, instance: 'second' })),
    ].map(({ l, instance }) => {
      const [, name = '', labels = '', value = ''] = /^(\w+)\{(.*)\} (\S+)$/.exec(l) ?? [];
      return { series: `${name}{${labels},instance="${instance}"}`, values: `${value}+0x120` };
    });
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-failover-'));
    const testFile = join(dir, 'failover-test.yaml');
    await writeFile(
      testFile,
      stringify({
        rule_files: [rulesFile],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: inputSeries,
            alert_rule_test: [{ eval_time: '90m', alertname: 'SigwatchEvidenceUnavailable', exp_alerts: [] }],
            promql_expr_test: [
              {
                expr: `sum by (policy) (sigwatch_pods{policy="${policy}"})`,
                eval_time: '90m',
                exp_samples: [{ labels: `{policy="${policy}"}`, value: 1 }],
              },
            ],
          },
        ],
      }),
    );
    const run = await exec('promtool', ['test', 'rules', testFile], { timeoutMs: 60_000 });
    expect(run.stdout, run.stdout + run.stderr).to.contain('SUCCESS');
  });
});
