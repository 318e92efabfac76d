/**
 * The observability assets in config/ (issue 8): the alert rules pass
 * `promtool check rules` and `promtool test rules` with test series for
 * every alert, the PrometheusRule holds exactly those groups, and every
 * metric a rule or a dashboard panel uses is one a running operator
 * exports (a renamed metric would silently blank a panel or an alert).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse } from 'yaml';
import { exec } from '../support/exec.js';
import { allCrds } from '../../src/operator/crds/crds.js';
import { applyCrd, freshNamespace } from '../support/kube.js';
import { startOperatorProcess } from '../support/operator-process.js';

const file = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const rulesFile = file('config/prometheus/rules.yaml');
const rules = parse(readFileSync(rulesFile, 'utf8')) as {
  groups: { rules: { alert: string; expr: string }[] }[];
};
const dashboard = JSON.parse(readFileSync(file('config/grafana/sigwatch-dashboard.json'), 'utf8')) as {
  panels: { title: string; targets?: { expr: string }[] }[];
};

/** `sigwatch_*` names in PromQL, histogram series folded into their family. */
function metricNames(exprs: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const e of exprs)
    for (const m of e.matchAll(/\bsigwatch_[a-z_]+/g)) names.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  return names;
}

describe('config/: alert rules and the dashboard', function () {
  this.timeout(120_000);

  it('pass promtool check rules and promtool test rules, with a test for every alert', async () => {
    const check = await exec('promtool', ['check', 'rules', rulesFile], { timeoutMs: 60_000 });
    expect(check.stdout).to.contain('SUCCESS');
    const tests = file('test/promtool/rules-test.yaml');
    const run = await exec('promtool', ['test', 'rules', tests], { timeoutMs: 60_000 });
    expect(run.stdout).to.contain('SUCCESS');
    const tested = new Set(
      (
        parse(readFileSync(tests, 'utf8')) as { tests: { alert_rule_test: { alertname: string }[] }[] }
      ).tests.flatMap((t) => t.alert_rule_test.map((a) => a.alertname)),
    );
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(
      alerts.filter((a) => !tested.has(a)),
      'alerts without a promtool test',
    ).to.deep.equal([]);
  });

  it('ship the same groups in the PrometheusRule as in the plain rule file', () => {
    const cr = parse(readFileSync(file('config/prometheus/prometheus-rule.yaml'), 'utf8')) as {
      kind: string;
      spec: { groups: unknown };
    };
    expect(cr.kind).to.equal('PrometheusRule');
    expect(cr.spec.groups).to.deep.equal(rules.groups);
  });

  it('use only metrics a running operator exports', async () => {
    const used = metricNames([
      ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ]);
    expect(used.size).to.be.greaterThan(10);
    expect(
      dashboard.panels.every((p) => (p.targets ?? []).length > 0),
      'every panel queries something',
    ).to.equal(true);
    for (const crd of allCrds()) await applyCrd(crd);
    const operator = await startOperatorProcess([
      '--namespace',
      await freshNamespace('obs'),
      '--no-leader-election',
      // Refresh on (against a loopback mirror that refuses), so the trust root's age is exported.
      '--trust-refresh',
      'on',
      '--tuf-mirror',
      'http://127.0.0.1:1',
    ]);
    try {
      const text = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
      const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] ?? ''));
      expect(
        [...used].filter((n) => !exported.has(n)),
        'used but not exported',
      ).to.deep.equal([]);
    } finally {
      expect(await operator.stop()).to.equal(0);
    }
  });
});
