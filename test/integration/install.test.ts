/**
 * The install (issue 8): manifests/install.yaml is what hack/render-install.sh
 * renders from crds/ and config/default; `kubectl apply` takes it on the
 * bare test API server at the first try; the operator, running with a token
 * of the manifest's service account, has enough rights to do its job; and
 * that service account's rights are exactly the checked-in expected ones
 * (no Secret reads outside its namespace). The admission webhooks (issue 17)
 * are wired to the Service and port the Deployment serves and never cover
 * the system namespaces or the operator's own; they are checked by a
 * server-side dry run and never stored here (test/support/install.ts).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { generateKeyPair } from '../support/cosign.js';
import { exec } from '../support/exec.js';
import { pushRandomImage, randomRepo } from '../support/images.js';
import {
  applyInstallWithoutWebhooks,
  installObjects,
  installYaml,
  isWebhookConfiguration,
  type ManifestObject,
} from '../support/install.js';
import { freshNamespace, kubeConfig, mintToken, kubeConnection } from '../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../support/operator-objects.js';
import { eventually, startOperatorProcess } from '../support/operator-process.js';
import { testEnv } from '../support/testenv.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const expectedRulesFile = join(root, 'test/integration/install-expected-rules.json');

interface RulesReview {
  status: {
    resourceRules: {
      verbs: string[];
      apiGroups?: string[];
      resources?: string[];
      resourceNames?: string[];
    }[];
    nonResourceRules: { verbs: string[]; nonResourceURLs?: string[] }[];
  };
}

/** `group/resource verb` (and `url verb`) lines, sorted: a diff names exactly the right that changed. */
function flatten(review: RulesReview): string[] {
  const lines = new Set<string>();
  for (const r of review.status.resourceRules)
    for (const g of r.apiGroups ?? [''])
      for (const res of r.resources ?? [])
        for (const v of r.verbs)
          lines.add(
            `${g === '' ? 'core' : g}/${res} ${v}${r.resourceNames === undefined ? '' : ` [${r.resourceNames.join(',')}]`}`,
          );
  for (const r of review.status.nonResourceRules)
    for (const u of r.nonResourceURLs ?? []) for (const v of r.verbs) lines.add(`${u} ${v}`);
  return [...lines].sort();
}

describe('install: manifests/install.yaml', function () {
  this.timeout(180_000);
  const policies = new PolicyObjects();
  after(() => policies.deleteAll());

  it('is what hack/render-install.sh renders from crds/ and config/default', async () => {
    const { stdout } = await exec('bash', [join(root, 'hack/render-install.sh'), '--check'], {
      timeoutMs: 60_000,
    });
    expect(stdout).to.contain('up to date');
  });

  it('wires the admission webhooks to the Service and port every replica serves, never covering system namespaces or its own', async () => {
    const objects = await installObjects();
    const one = (kind: string, name: string): ManifestObject => {
      const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
      expect(found, `${kind} ${name}`).to.have.length(1);
      const [first] = found;
      if (first === undefined) throw new Error(`no ${kind} ${name}`);
      return first;
    };
    const deployment = one('Deployment', 'sigwatch') as ManifestObject & {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: { args: string[]; ports: { name: string; containerPort: number }[] }[] };
        };
      };
    };
    const namespace = deployment.metadata.namespace;
    const [container] = deployment.spec.template.spec.containers;
    const flag = (name: string): string | undefined =>
      container?.args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
    const serviceName = flag('webhook-service') ?? '';
    const service = one('Service', serviceName) as ManifestObject & {
      spec: { selector: Record<string, string>; ports: { port: number; targetPort: string }[] };
    };
    expect(service.metadata.namespace).to.equal(namespace);
    // Every replica answers: the selector is the pod template's, without the leader label.
    expect(service.spec.selector).to.deep.equal(deployment.spec.template.metadata.labels);
    const webhookPort = container?.ports.find((p) => String(p.containerPort) === flag('webhook-port'));
    expect(webhookPort?.name, 'the container port of --webhook-port').to.be.a('string');

    const configs = objects.filter(isWebhookConfiguration) as (ManifestObject & {
      webhooks: {
        name: string;
        clientConfig: { caBundle?: string; service?: { namespace: string; name: string; port: number } };
        namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
        failurePolicy: string;
      }[];
    })[];
    expect(
      configs.map((c) => [c.kind, c.metadata.name, c.webhooks.map((w) => [w.name, w.failurePolicy])]),
    ).to.deep.equal([
      ['MutatingWebhookConfiguration', 'sigwatch', [['pin.sigwatch.dev', 'Ignore']]],
      [
        'ValidatingWebhookConfiguration',
        'sigwatch',
        [
          ['pods.sigwatch.dev', 'Fail'],
          ['workloads.sigwatch.dev', 'Fail'],
        ],
      ],
    ]);
    for (const webhook of configs.flatMap((c) => c.webhooks)) {
      const { service: target, caBundle } = webhook.clientConfig;
      expect(target?.namespace, webhook.name).to.equal(namespace);
      expect(target?.name, webhook.name).to.equal(serviceName);
      const port = service.spec.ports.find((p) => p.port === target?.port);
      expect(port?.targetPort, `${webhook.name}: the Service port's target`).to.equal(webhookPort?.name);
      // The operator fills it; a value here would be overwritten or, with cert-manager, fight it.
      expect(caBundle, `${webhook.name}: caBundle`).to.equal(undefined);
      // One NotIn on the namespace name is enough: further expressions can only narrow the selector.
      const excluded = webhook.namespaceSelector.matchExpressions.find(
        (e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn',
      )?.values;
      expect(excluded, `${webhook.name}: namespaces never judged`).to.include.members([
        'kube-system',
        'kube-public',
        'kube-node-lease',
        namespace,
      ]);
    }
  });

  it('applies to a bare API server at the first try, and its service account can run the operator', async () => {
    // Everything but the webhook configurations for real; then the whole file, as a user applies it,
    // as a server-side dry run: the webhook configurations pass the API server's validation and
    // admission like every other object, and are not stored (no operator serves them here).
    await applyInstallWithoutWebhooks();
    const whole = await exec('kubectl', ['apply', '--dry-run=server', '-f', installYaml], {
      timeoutMs: 60_000,
    });
    for (const kind of ['validating', 'mutating'])
      expect(whole.stdout).to.contain(
        `${kind}webhookconfiguration.admissionregistration.k8s.io/sigwatch created (server dry run)`,
      );
    const asAdmin = new KubeHttp(kubeConnection());
    for (const plural of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations']) {
      const res = await asAdmin.send({
        method: 'GET',
        path: `/apis/admissionregistration.k8s.io/v1/${plural}/sigwatch`,
      });
      expect(res.status, `${plural}/sigwatch stored`).to.equal(404);
    }
    // The samples are valid against the installed CRDs (a server-side dry run stores nothing).
    const samples = await exec('kubectl', ['apply', '--dry-run=server', '-k', join(root, 'config/samples')], {
      timeoutMs: 60_000,
    });
    expect(samples.stdout).to.contain('imagepolicy.sigwatch.dev/sample created (server dry run)');
    const token = await mintToken('sigwatch-system', 'sigwatch', [], 3600);
    const admin = kubeConfig();
    const cluster = admin.getCurrentCluster();
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-install-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'test',
            cluster: {
              server: cluster?.server,
              'certificate-authority-data':
                cluster?.caData ?? (await readFile(cluster?.caFile ?? '')).toString('base64'),
            },
          },
        ],
        users: [{ name: 'sigwatch', user: { token } }],
        contexts: [{ name: 'sigwatch', context: { cluster: 'test', user: 'sigwatch' } }],
        'current-context': 'sigwatch',
      }),
    );

    // Its rights, compared with the checked-in expectation, in its namespace, in kube-system (the front
    // proxy's ConfigMap, read-only) and in any other.
    const asSigwatch = new KubeHttp(kubeConnection(kubeconfig));
    const other = await freshNamespace('install-other');
    const rules: Record<string, string[]> = {};
    for (const [label, namespace] of [
      ['sigwatch-system', 'sigwatch-system'],
      ['kube-system', 'kube-system'],
      ['any-other-namespace', other],
    ] as const) {
      const review = (await asSigwatch.call({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
      })) as RulesReview;
      rules[label] = flatten(review);
    }
    // After an intended RBAC change: SIGWATCH_WRITE_EXPECTED_RULES=1 rewrites the file; review its diff.
    if (process.env['SIGWATCH_WRITE_EXPECTED_RULES'] === '1')
      await writeFile(expectedRulesFile, `${JSON.stringify(rules, null, 2)}\n`);
    const expected = JSON.parse(await readFile(expectedRulesFile, 'utf8')) as Record<string, string[]>;
    expect(rules).to.deep.equal(expected);
    expect(
      rules['any-other-namespace']?.some((r) => r.startsWith('core/secrets')),
      'Secrets outside its namespace',
    ).to.equal(false);
    // What the API server's authorizer answers for the service account (the question an attacker who
    // took over the process would ask): no ConfigMap write in kube-system (coredns, aws-auth), while
    // its own reports and its own namespace's trusted roots stay allowed.
    const may = async (
      namespace: string,
      verb: string,
      resource: string,
      group = '',
      name?: string,
    ): Promise<boolean> =>
      (
        (await asAdmin.call({
          method: 'POST',
          path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: 'system:serviceaccount:sigwatch-system:sigwatch',
              groups: [
                'system:serviceaccounts',
                'system:serviceaccounts:sigwatch-system',
                'system:authenticated',
              ],
              resourceAttributes: {
                namespace,
                verb,
                resource,
                group,
                ...(name === undefined ? {} : { name }),
              },
            },
          },
        })) as { status: { allowed: boolean } }
      ).status.allowed;
    expect(await may('kube-system', 'update', 'configmaps'), 'update a ConfigMap in kube-system').to.equal(
      false,
    );
    expect(await may('kube-system', 'create', 'configmaps'), 'create a ConfigMap in kube-system').to.equal(
      false,
    );
    expect(await may(other, 'delete', 'configmaps'), 'delete a ConfigMap elsewhere').to.equal(false);
    expect(await may('sigwatch-system', 'get', 'configmaps'), 'read its trusted roots').to.equal(true);
    expect(await may(other, 'create', 'imageauditreports', 'sigwatch.dev'), 'write reports').to.equal(true);
    // The webhook CA: its own Secret in its own namespace, nothing elsewhere; caBundle of its own
    // webhook configurations only (webhook-policy.yaml narrows the patch to that field).
    const ca = 'sigwatch-webhook-ca';
    expect(await may('sigwatch-system', 'update', 'secrets', '', ca), 'update the webhook CA').to.equal(true);
    expect(await may('sigwatch-system', 'update', 'secrets', '', 'x'), 'update another Secret').to.equal(
      false,
    );
    // Shipped empty in the install: no `create` on Secrets (it could not be limited to that name).
    expect(await may('sigwatch-system', 'create', 'secrets'), 'create a Secret (a token Secret)').to.equal(
      false,
    );
    expect(await may(other, 'create', 'secrets'), 'create a Secret elsewhere').to.equal(false);
    for (const hooks of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations']) {
      const group = 'admissionregistration.k8s.io';
      expect(await may('', 'patch', hooks, group, 'sigwatch'), `patch its ${hooks}`).to.equal(true);
      expect(await may('', 'patch', hooks, group, 'other'), `patch other ${hooks}`).to.equal(false);
      expect(await may('', 'create', hooks, group), `create ${hooks}`).to.equal(false);
      expect(await may('', 'delete', hooks, group, 'sigwatch'), `delete ${hooks}`).to.equal(false);
    }

    // The rights are enough: with this token the operator watches, judges and labels.
    const ns = await freshNamespace('install');
    const key = await generateKeyPair();
    const image = await pushRandomImage(testEnv().registry, `${randomRepo('install')}/unsigned`);
    await policies.create(
      `install-${ns}`,
      enforceIn(
        ns,
        [`${testEnv().registry}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    await runningPod(ns, 'app', image.ref);
    const operator = await startOperatorProcess(
      ['--namespace', 'sigwatch-system', '--insecure-registry', testEnv().registry, '--no-leader-election'],
      { kubeconfig },
    );
    try {
      await eventually('the label', async () =>
        (await podMarks(ns, 'app')).label === 'noncompliant' ? true : undefined,
      );
      await eventually('the policy status', async () =>
        (await policies.status(`install-${ns}`))?.['summary'] === undefined ? undefined : true,
      );
      // And audits: two runs of an audit keeping one report write, list and delete ImageAuditReports.
      const audits = `/apis/sigwatch.dev/v1alpha1/namespaces/${ns}/imageaudits`;
      const reportOf = async (): Promise<string | undefined> => {
        const a = (await asAdmin.call({ method: 'GET', path: `${audits}/install` })) as {
          status?: { lastResult?: { reportName?: string } };
        };
        return a.status?.lastResult?.reportName;
      };
      await asAdmin.call({
        method: 'POST',
        path: audits,
        body: {
          apiVersion: 'sigwatch.dev/v1alpha1',
          kind: 'ImageAudit',
          metadata: { name: 'install', annotations: { 'sigwatch.dev/run-now': '1' } },
          spec: { schedule: '0 0 1 1 *', historyLimit: 1 },
        },
      });
      const first = await eventually('the first report', reportOf);
      await new Promise((r) => setTimeout(r, 1_100)); // report names are per second
      await asAdmin.call({
        method: 'PATCH',
        path: `${audits}/install`,
        body: { metadata: { annotations: { 'sigwatch.dev/run-now': '2' } } },
      });
      const second = await eventually('the second report', async () => {
        const r = await reportOf();
        return r === first ? undefined : r;
      });
      const left = (await asAdmin.call({
        method: 'GET',
        path: `/apis/sigwatch.dev/v1alpha1/namespaces/${ns}/imageauditreports`,
      })) as { items: { metadata: { name: string } }[] };
      expect(left.items.map((i) => i.metadata.name)).to.deep.equal([second]);
      expect(operator.logs()).to.not.match(/\b403\b/);
    } finally {
      expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
    }
  });
});
