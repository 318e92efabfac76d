/**
 * The Helm chart (issue 19, item 8) against its one source of truth: with
 * default values it renders exactly the objects of manifests/install.yaml
 * except the Namespace (Helm's `--create-namespace` makes it); each optional
 * part renders exactly what its kustomize twin in config/ adds; every value
 * reaches the object it names; the schema refuses bad values; and a rendering
 * with every option changed is accepted by the real API server (server-side
 * dry run). Installing, upgrading and uninstalling it on a real node is
 * test/integration/cluster/helm.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { chartDir, helm, objectKey, parseObjects, renderChart } from '../support/chart.js';
import { exec } from '../support/exec.js';
import { installObjects, type ManifestObject } from '../support/install.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** config/default with kustomize components and resources added, as an overlay renders it. */
async function kustomizeWith(
  components: readonly string[],
  resources: readonly string[] = [],
): Promise<ManifestObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-kz-'));
  try {
    const config = relative(dir, join(root, 'config'));
    await writeFile(
      join(dir, 'kustomization.yaml'),
      stringify({
        resources: [`${config}/default`, ...resources.map((r) => `${config}/${r}`)],
        components: components.map((c) => `${config}/${c}`),
      }),
    );
    return parseObjects((await exec('kubectl', ['kustomize', dir], { timeoutMs: 60_000 })).stdout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The first of `list`, failing the test when it is empty. */
const only = <T>(list: readonly T[], what: string): T => list[0] ?? expect.fail(`no ${what}`);

const byKey = (objects: readonly ManifestObject[]): Map<string, ManifestObject> =>
  new Map(objects.map((o) => [objectKey(o), o]));

const find = (objects: readonly ManifestObject[], kind: string, name: string): ManifestObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).to.have.length(1);
  return only(found, `${kind} ${name}`);
};

interface Container {
  image: string;
  imagePullPolicy?: string;
  command: string[];
  args: string[];
  resources: unknown;
}
const container = (objects: readonly ManifestObject[]): Container =>
  (
    find(objects, 'Deployment', 'sigwatch') as unknown as {
      spec: { template: { spec: { containers: Container[] } } };
    }
  ).spec.template.spec.containers[0] ?? expect.fail('the Deployment has no container');

/** The objects of `changed` that differ from (or are missing in) `base`, by key. */
function changedKeys(base: readonly ManifestObject[], changed: readonly ManifestObject[]): string[] {
  const before = byKey(base);
  return changed
    .filter((o) => JSON.stringify(before.get(objectKey(o))) !== JSON.stringify(o))
    .map(objectKey)
    .sort();
}

describe('Helm chart charts/sigwatch', function () {
  this.timeout(120_000);
  let defaults: ManifestObject[];

  before(async () => {
    defaults = await renderChart();
  });

  it('passes helm lint --strict', async () => {
    const out = await helm(['lint', '--strict', chartDir]);
    expect(out).to.contain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('renders with default values exactly the objects of manifests/install.yaml, except its Namespace', async () => {
    const install = await installObjects();
    const expected = byKey(install.filter((o) => o.kind !== 'Namespace'));
    const rendered = byKey(defaults);
    expect([...rendered.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [key, object] of expected) {
      expect(rendered.get(key), key).to.deep.equal(object);
    }
    // The one object left out is the namespace the release goes to.
    expect(install.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).to.deep.equal([
      'sigwatch-system',
    ]);
  });

  it('puts every namespaced object, binding subject and webhook exclusion in the release namespace', async () => {
    const objects = await renderChart({}, 'security');
    const namespaced = objects.filter((o) => o.metadata.namespace !== undefined);
    expect(namespaced.map((o) => o.metadata.namespace).filter((n) => n !== 'security')).to.deep.equal([
      // Delegated authentication's reader binding lives where its ConfigMap is.
      'kube-system',
    ]);
    const text = JSON.stringify(objects);
    expect(text).not.to.contain('sigwatch-system');
    const subjects = objects.flatMap((o) => (o as { subjects?: { namespace: string }[] }).subjects ?? []);
    expect(subjects.length).to.be.greaterThan(2);
    expect(subjects.every((s) => s.namespace === 'security')).to.equal(true);
    const hooks = (
      find(objects, 'ValidatingWebhookConfiguration', 'sigwatch') as unknown as {
        webhooks: {
          namespaceSelector: { matchExpressions: { values: string[] }[] };
          clientConfig: { service: { namespace: string } };
        }[];
      }
    ).webhooks;
    for (const hook of hooks) {
      expect(hook.namespaceSelector.matchExpressions[0]?.values).to.include('security');
      expect(hook.clientConfig.service.namespace).to.equal('security');
    }
  });

  it('enforce.enabled=false leaves out exactly the enforce ClusterRole and its binding', async () => {
    const objects = await renderChart({ enforce: { enabled: false } });
    const missing = [...byKey(defaults).keys()].filter((k) => !byKey(objects).has(k)).sort();
    expect(missing).to.deep.equal(['ClusterRole//sigwatch-enforce', 'ClusterRoleBinding//sigwatch-enforce']);
    expect(changedKeys(defaults, objects)).to.deep.equal([]);
  });

  it('pullSecrets and policyReports render what config/pull-secrets and the policy-reports component add', async () => {
    const objects = await renderChart({ pullSecrets: { enabled: true }, policyReports: { enabled: true } });
    const kustomized = await kustomizeWith(['policy-reports'], ['pull-secrets']);
    // The component appends its flag after the install's; the chart puts each part's flag in one place.
    const args = (list: readonly ManifestObject[]): string[] => [...container(list).args].sort();
    expect(args(objects)).to.deep.equal([...args(kustomized), '--pod-pull-secrets'].sort());
    for (const name of ['sigwatch-pull-secrets', 'sigwatch-policy-reports']) {
      for (const kind of ['ClusterRole', 'ClusterRoleBinding']) {
        expect(find(objects, kind, name), `${kind} ${name}`).to.deep.equal(find(kustomized, kind, name));
      }
    }
    expect(changedKeys(defaults, objects)).to.deep.equal([
      'ClusterRole//sigwatch-policy-reports',
      'ClusterRole//sigwatch-pull-secrets',
      'ClusterRoleBinding//sigwatch-policy-reports',
      'ClusterRoleBinding//sigwatch-pull-secrets',
      'Deployment/sigwatch-system/sigwatch',
    ]);
  });

  it("prometheus renders config/prometheus's ServiceMonitor and PrometheusRule, with additionalLabels for kube-prometheus-stack", async () => {
    const additionalLabels = { release: 'kube-prometheus-stack', team: 'platform' };
    const objects = await renderChart({
      prometheus: { serviceMonitor: { enabled: true }, prometheusRule: { enabled: true }, additionalLabels },
    });
    const kustomized = await kustomizeWith(['prometheus']);
    type Labelled = ManifestObject & { metadata: { labels: Record<string, string> }; spec: unknown };
    for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
      const chart = find(objects, kind, 'sigwatch') as Labelled;
      const twin = find(kustomized, kind, 'sigwatch') as Labelled;
      expect(chart.metadata.labels).to.deep.equal({ ...twin.metadata.labels, ...additionalLabels });
      expect({ ...chart.metadata, labels: twin.metadata.labels }).to.deep.equal(twin.metadata);
      expect([chart.apiVersion, chart.kind]).to.deep.equal([twin.apiVersion, twin.kind]);
    }
    expect((find(objects, 'ServiceMonitor', 'sigwatch') as Labelled).spec).to.deep.equal(
      (find(kustomized, 'ServiceMonitor', 'sigwatch') as Labelled).spec,
    );
    // The rule's spec is the plain rule file promtool tests (observability.test.ts ties the config's
    // PrometheusRule to the same file). Not compared with kustomize's rendering of the config's copy:
    // kustomize folds a `>` scalar's more-indented PromQL line with an extra newline, JS and Helm do not.
    const rules = parse(await readFile(join(root, 'config/prometheus/rules.yaml'), 'utf8')) as unknown;
    expect((find(objects, 'PrometheusRule', 'sigwatch') as Labelled).spec).to.deep.equal(rules);
    // Neither is rendered by default: a plain cluster lacks the Prometheus Operator's CRDs.
    expect(defaults.filter((o) => o.kind === 'ServiceMonitor' || o.kind === 'PrometheusRule')).to.deep.equal(
      [],
    );
  });

  it('carries image, replicas, resources, memory cap, scheduling, flags, NetworkPolicy sources and webhook settings to their objects', async () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const values = {
      image: { repository: 'registry.example/sec/sigwatch', digest, pullPolicy: 'Always' },
      imagePullSecrets: ['regcred'],
      replicas: 3,
      resources: { requests: { cpu: '200m', memory: '512Mi' }, limits: { memory: '1Gi' } },
      maxOldSpaceMiB: 512,
      priorityClassName: 'system-cluster-critical',
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'security', effect: 'NoSchedule' }],
      extraArgs: ['--trust-refresh=off', '--insecure-registry=registry.local:5000'],
      podDisruptionBudget: { minAvailable: 2 },
      webhook: { failurePolicy: 'Ignore', timeoutSeconds: 5, excludedNamespaces: ['ci', 'kube-system'] },
      networkPolicy: {
        ingressFrom: {
          metrics: [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }],
          webhook: [{ ipBlock: { cidr: '10.0.0.0/24' } }],
        },
      },
    };
    const objects = await renderChart(values);
    const c = container(objects);
    expect(c.image).to.equal(`registry.example/sec/sigwatch@${digest}`);
    expect(c.imagePullPolicy).to.equal('Always');
    expect(c.resources).to.deep.equal(values.resources);
    expect(c.command).to.include('--max-old-space-size=512');
    expect(c.args.slice(-2)).to.deep.equal(values.extraArgs);
    const deployment = find(objects, 'Deployment', 'sigwatch') as unknown as {
      spec: { replicas: number; template: { spec: Record<string, unknown> } };
    };
    expect(deployment.spec.replicas).to.equal(3);
    const pod = deployment.spec.template.spec;
    expect(pod['priorityClassName']).to.equal('system-cluster-critical');
    expect(pod['imagePullSecrets']).to.deep.equal([{ name: 'regcred' }]);
    expect(pod['nodeSelector']).to.deep.equal(values.nodeSelector);
    expect(pod['tolerations']).to.deep.equal(values.tolerations);
    expect(
      (find(objects, 'PodDisruptionBudget', 'sigwatch') as unknown as { spec: { minAvailable: number } }).spec
        .minAvailable,
    ).to.equal(2);
    const hooks = [
      ...(
        find(objects, 'ValidatingWebhookConfiguration', 'sigwatch') as unknown as {
          webhooks: Record<string, unknown>[];
        }
      ).webhooks,
    ];
    expect(hooks.map((h) => [h['failurePolicy'], h['timeoutSeconds']])).to.deep.equal([
      ['Ignore', 5],
      ['Ignore', 5],
    ]);
    const excluded = (h: Record<string, unknown>): unknown =>
      (h['namespaceSelector'] as { matchExpressions: { values: string[] }[] }).matchExpressions[0]?.values;
    // Listed once each: kube-system was already there.
    expect(excluded(only(hooks.slice(0, 1), 'pods.sigwatch.dev'))).to.deep.equal([
      'kube-system',
      'kube-public',
      'kube-node-lease',
      'sigwatch-system',
      'ci',
    ]);
    const pin =
      (
        find(objects, 'MutatingWebhookConfiguration', 'sigwatch') as unknown as {
          webhooks: Record<string, unknown>[];
        }
      ).webhooks[0] ?? expect.fail('no pinning webhook');
    // Pinning stays Ignore whatever the validating webhooks do: it is an optimisation.
    expect([pin['failurePolicy'], pin['timeoutSeconds'], excluded(pin)]).to.deep.equal([
      'Ignore',
      5,
      excluded(only(hooks.slice(0, 1), 'pods.sigwatch.dev')),
    ]);
    const ingress = (
      find(objects, 'NetworkPolicy', 'sigwatch') as unknown as { spec: { ingress: unknown[] } }
    ).spec.ingress;
    expect(ingress).to.deep.equal([
      { ports: [{ protocol: 'TCP', port: 8081 }], from: values.networkPolicy.ingressFrom.metrics },
      { ports: [{ protocol: 'TCP', port: 8443 }] },
      { ports: [{ protocol: 'TCP', port: 9443 }], from: values.networkPolicy.ingressFrom.webhook },
    ]);
  });

  it('webhook.enabled=false drops the webhooks, their Service, CA Secret, policy, flags, port and rights', async () => {
    const objects = await renderChart({ webhook: { enabled: false } });
    const missing = [...byKey(defaults).keys()].filter((k) => !byKey(objects).has(k)).sort();
    expect(missing).to.deep.equal([
      'MutatingWebhookConfiguration//sigwatch',
      'Secret/sigwatch-system/sigwatch-webhook-ca',
      'Service/sigwatch-system/sigwatch-webhook',
      'ValidatingAdmissionPolicy//sigwatch-webhook-cabundle-only',
      'ValidatingAdmissionPolicyBinding//sigwatch-webhook-cabundle-only',
      'ValidatingWebhookConfiguration//sigwatch',
    ]);
    expect(container(objects).args.filter((a) => a.startsWith('--webhook'))).to.deep.equal([]);
    const text = JSON.stringify([
      find(objects, 'ClusterRole', 'sigwatch'),
      find(objects, 'Role', 'sigwatch'),
    ]);
    expect(text).not.to.contain('webhookconfigurations');
    expect(text).not.to.contain('sigwatch-webhook-ca');
    expect(JSON.stringify(find(objects, 'NetworkPolicy', 'sigwatch'))).not.to.contain('9443');
  });

  for (const [what, values, message] of [
    ['a misspelt key', { replica: 3 }, 'replica'],
    ['a replica count that is not a number', { replicas: 'two' }, 'replicas'],
    ['an argument that is not a flag', { extraArgs: ['run'] }, 'extraArgs'],
    ['a digest that is not sha256', { image: { digest: 'md5:abc' } }, 'digest'],
    [
      'a failure policy the API server does not know',
      { webhook: { failurePolicy: 'Maybe' } },
      'failurePolicy',
    ],
    ['a webhook timeout above the API server limit', { webhook: { timeoutSeconds: 31 } }, 'timeoutSeconds'],
    [
      'an excluded namespace that is not a name',
      { webhook: { excludedNamespaces: ['a b'] } },
      'excludedNamespaces',
    ],
    // A newline in a string value must not write fields of its own into the pod spec.
    [
      'a priority class smuggling pod fields',
      { priorityClassName: 'x\n      hostPID: true' },
      'priorityClassName',
    ],
    ['no replica at all (admission would refuse every pod)', { replicas: 0 }, 'replicas'],
    ['a flag the chart sets from its values', { extraArgs: ['--no-leader-election'] }, 'extraArgs'],
    ['a second --namespace', { extraArgs: ['--namespace=kube-system'] }, 'extraArgs'],
    [
      'an image repository that is a bare host:port',
      { image: { repository: 'localhost:5000' } },
      'repository',
    ],
    [
      'a NetworkPolicy peer that matches nothing',
      { networkPolicy: { ingressFrom: { metrics: [{}] } } },
      'metrics',
    ],
    [
      'a label key kube-prometheus-stack could not select',
      { prometheus: { additionalLabels: { 'bad key!': 'x' } } },
      'bad key!',
    ],
  ] as const) {
    it(`refuses ${what} with the schema's error`, async () => {
      const err = await renderChart(values as Record<string, unknown>).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err, 'helm template should fail').to.be.instanceOf(Error);
      expect(err?.message).to.contain('values don');
      expect(err?.message).to.contain(message);
    });
  }

  for (const namespace of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    it(`refuses to install into ${namespace}: the webhooks never cover the release namespace and the operator reads its Secrets`, async () => {
      const err = await renderChart({}, namespace).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.contain('install Sigwatch into a namespace of its own');
    });
  }

  it('refuses as many replicas as the disruption budget keeps (no node could be drained)', async () => {
    const err = await renderChart({ replicas: 2, podDisruptionBudget: { minAvailable: 2 } }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.contain('must be more than podDisruptionBudget.minAvailable');
  });

  it('quotes names Helm would otherwise read as booleans or numbers', async () => {
    const objects = await renderChart({ imagePullSecrets: ['true', '123'] }, 'no');
    const pod = (
      find(objects, 'Deployment', 'sigwatch') as unknown as {
        spec: { template: { spec: { imagePullSecrets: unknown } } };
      }
    ).spec.template.spec;
    expect(pod.imagePullSecrets).to.deep.equal([{ name: 'true' }, { name: '123' }]);
    expect(find(objects, 'Deployment', 'sigwatch').metadata.namespace).to.equal('no');
  });

  it('renders, with the options changed, objects the real API server accepts (server-side dry run)', async () => {
    const ns = `chart-${String(Date.now() % 1_000_000)}`;
    await exec('kubectl', ['create', 'namespace', ns]);
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-chart-dry-'));
    try {
      const objects = await renderChart(
        {
          pullSecrets: { enabled: true },
          policyReports: { enabled: true },
          replicas: 3,
          extraArgs: ['--trust-refresh=off'],
          networkPolicy: { ingressFrom: { api: [{ ipBlock: { cidr: '192.0.2.0/24' } }] } },
          imagePullSecrets: ['regcred'],
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
          podDisruptionBudget: { minAvailable: '50%' },
          podAnnotations: { 'example.com/team': 'security' },
          extraVolumes: [{ name: 'webhook-tls', secret: { secretName: 'sigwatch-webhook-tls' } }],
          extraVolumeMounts: [{ name: 'webhook-tls', mountPath: '/tls', readOnly: true }],
          webhook: {
            failurePolicy: 'Ignore',
            excludedNamespaces: ['ci'],
            annotations: { 'cert-manager.io/inject-ca-from': 'x/y' },
          },
          apiService: { annotations: { 'cert-manager.io/inject-ca-from': 'x/y' } },
        },
        ns,
      );
      // The CRDs are the install's, already on this API server: a dry run of a CRD update says nothing new.
      const applied = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
      await writeFile(join(dir, 'objects.yaml'), applied.map((o) => stringify(o)).join('---\n'));
      const { stdout } = await exec(
        'kubectl',
        ['apply', '--dry-run=server', '-f', join(dir, 'objects.yaml')],
        {
          timeoutMs: 60_000,
        },
      );
      expect(stdout.trim().split('\n')).to.have.length(applied.length);
      expect(stdout).to.contain(`deployment.apps/sigwatch created (server dry run)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await exec('kubectl', ['delete', 'namespace', ns, '--wait=false']);
    }
  });
});
