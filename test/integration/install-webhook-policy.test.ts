/**
 * The install's ValidatingAdmissionPolicy for its admission webhook
 * configurations (config/base/webhook-policy.yaml) on the real API server:
 * RBAC lets the operator's service account `patch` the two configurations
 * named sigwatch, and the policy narrows that to
 * webhooks[*].clientConfig.caBundle, so a compromised operator can neither
 * switch admission off (failurePolicy, rules, selectors, match conditions,
 * an owner to be garbage-collected with) nor send what is admitted elsewhere.
 * Admins are untouched.
 *
 * The two configurations are stored here, as install.yaml has them, only
 * while this file runs, and deleted in after(): no operator serves them on
 * the bare API server, so their failurePolicy Fail would refuse every pod a
 * later test creates (test/support/install.ts). Nothing in this file creates
 * a pod or a workload, and test files run one at a time.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { KubeHttp, type KubeResponse } from '../../src/operator/kube/client.js';
import {
  applyInstallWithoutWebhooks,
  installObjects,
  isWebhookConfiguration,
  kubectlApply,
} from '../support/install.js';
import { mintToken, withClusterRules, kubeConnection, kubeConnectionWithToken } from '../support/kube.js';
import { eventually } from '../support/operator-process.js';

const group = '/apis/admissionregistration.k8s.io/v1';
const validating = `${group}/validatingwebhookconfigurations/sigwatch`;
const mutating = `${group}/mutatingwebhookconfigurations/sigwatch`;
const policy = 'sigwatch-webhook-cabundle-only';
const refusal =
  'the sigwatch service account may change only webhooks[*].clientConfig.caBundle of a webhook configuration, not ';
const jsonPatch = 'application/json-patch+json';

interface Webhook {
  name: string;
  clientConfig: { caBundle?: string };
}
interface WebhookConfiguration {
  metadata: { resourceVersion: string; [field: string]: unknown };
  webhooks: Webhook[];
}

const withToken = (token: string): KubeHttp => new KubeHttp(kubeConnectionWithToken(token));
const caBundle = (): string => randomBytes(24).toString('base64');

/** A JSON patch (RFC 6902) of one configuration: the fields it touches are exactly its operations. */
const patch = (kube: KubeHttp, path: string, ops: unknown[], dryRun = false): Promise<KubeResponse> =>
  kube.send({
    method: 'PATCH',
    path: `${path}${dryRun ? '?dryRun=All' : ''}`,
    body: ops,
    contentType: jsonPatch,
  });

/** The policy's refusal: 403 (its `reason: Forbidden`), naming the policy and exactly `fields`. */
function expectRefused(res: KubeResponse, fields: readonly string[]): void {
  const body = res.body as { reason?: string; message?: string };
  expect(res.status, JSON.stringify(res.body)).to.equal(403);
  expect(body.reason).to.equal('Forbidden');
  const message = body.message ?? '';
  expect(message).to.contain(`ValidatingAdmissionPolicy '${policy}'`);
  expect(message).to.contain(refusal);
  expect(message.slice(message.indexOf(refusal) + refusal.length).split(', ')).to.have.members([...fields]);
}

/** Patches the operator must be refused, each a way to switch admission off or redirect it. */
const forbidden: readonly { what: string; path: string; ops: unknown[]; fields: string[] }[] = [
  {
    what: 'failurePolicy Ignore (a down operator then admits everything)',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' }],
    fields: ['webhooks[*].failurePolicy'],
  },
  {
    what: 'narrower rules',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/1/rules/0/resources', value: ['deployments'] }],
    fields: ['webhooks[*].rules'],
  },
  {
    what: 'a namespaceSelector matching nothing',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/0/namespaceSelector', value: { matchLabels: { nothing: 'x' } } }],
    fields: ['webhooks[*].namespaceSelector'],
  },
  {
    what: 'an objectSelector',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/1/objectSelector', value: { matchLabels: { judged: 'yes' } } }],
    fields: ['webhooks[*].objectSelector'],
  },
  {
    what: 'a match condition that is never true',
    path: validating,
    ops: [
      { op: 'add', path: '/webhooks/0/matchConditions', value: [{ name: 'never', expression: 'false' }] },
    ],
    fields: ['webhooks[*].matchConditions'],
  },
  {
    what: 'another Service',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/0/clientConfig/service/name', value: 'elsewhere' }],
    fields: ['webhooks[*].clientConfig.service'],
  },
  {
    what: 'a URL instead of the Service',
    path: mutating,
    ops: [{ op: 'replace', path: '/webhooks/0/clientConfig', value: { url: 'https://127.0.0.1:1/mutate' } }],
    fields: ['webhooks[*].clientConfig.service', 'webhooks[*].clientConfig.url'],
  },
  {
    what: 'another timeout',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/1/timeoutSeconds', value: 1 }],
    fields: ['webhooks[*].timeoutSeconds'],
  },
  {
    what: 'matchPolicy Exact',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/1/matchPolicy', value: 'Exact' }],
    fields: ['webhooks[*].matchPolicy'],
  },
  {
    what: 'sideEffects NoneOnDryRun',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/0/sideEffects', value: 'NoneOnDryRun' }],
    fields: ['webhooks[*].sideEffects'],
  },
  {
    what: 'other AdmissionReview versions',
    path: validating,
    ops: [{ op: 'replace', path: '/webhooks/0/admissionReviewVersions', value: ['v1', 'v1beta1'] }],
    fields: ['webhooks[*].admissionReviewVersions'],
  },
  {
    what: 'reinvocationPolicy IfNeeded',
    path: mutating,
    ops: [{ op: 'replace', path: '/webhooks/0/reinvocationPolicy', value: 'IfNeeded' }],
    fields: ['webhooks[*].reinvocationPolicy'],
  },
  {
    what: 'a webhook removed',
    path: validating,
    ops: [{ op: 'remove', path: '/webhooks/1' }],
    fields: ['webhooks[*].name'],
  },
  {
    what: 'a cert-manager annotation (cainjector would then write another CA)',
    path: mutating,
    ops: [
      {
        op: 'add',
        path: '/metadata/annotations',
        value: { 'cert-manager.io/inject-ca-from': 'elsewhere/cert' },
      },
    ],
    fields: ['metadata.annotations'],
  },
  {
    what: 'an owner (garbage collection would delete the configuration with it)',
    path: validating,
    ops: [
      {
        op: 'add',
        path: '/metadata/ownerReferences',
        value: [
          { apiVersion: 'v1', kind: 'Namespace', name: 'gone', uid: '00000000-0000-4000-8000-000000000000' },
        ],
      },
    ],
    fields: ['metadata.ownerReferences'],
  },
];

describe('install: the admission webhook configurations’ admission policy', function () {
  this.timeout(120_000);
  // Made in before(): the root hook sets KUBECONFIG only once the test environment is up.
  let admin: KubeHttp;
  let operator: KubeHttp;
  const originals = new Map<string, WebhookConfiguration>();

  const get = async (path: string): Promise<WebhookConfiguration> =>
    (await admin.call({ method: 'GET', path })) as WebhookConfiguration;

  before(async () => {
    admin = new KubeHttp(kubeConnection());
    await applyInstallWithoutWebhooks();
    await kubectlApply((await installObjects()).filter(isWebhookConfiguration));
    for (const path of [validating, mutating]) originals.set(path, await get(path));
    operator = withToken(await mintToken('sigwatch-system', 'sigwatch', [], 3600));
    // A new policy reaches the admission plugin through an informer, a moment after it is stored; a
    // dry run asks without changing anything if the policy is not there yet.
    await eventually(
      'the policy refusing a label',
      async () => {
        const res = await patch(
          operator,
          validating,
          [{ op: 'add', path: '/metadata/labels/x', value: 'y' }],
          true,
        );
        return (res.body as { message?: string }).message?.includes(policy) === true ? true : undefined;
      },
      30_000,
    );
  });

  // Every test starts from the configurations install.yaml stored. Nothing else writes them here.
  afterEach(async () => {
    for (const [path, original] of originals) {
      const now = await get(path);
      await admin.call({
        method: 'PUT',
        path,
        body: {
          ...original,
          metadata: { ...original.metadata, resourceVersion: now.metadata.resourceVersion },
        },
      });
    }
  });

  // Never left behind: a later test's pods would be refused. A failure here fails the run loudly.
  after(async () => {
    for (const path of [validating, mutating]) {
      const res = await admin.send({ method: 'DELETE', path });
      if (res.status !== 200 && res.status !== 404)
        throw new Error(`deleting ${path}: ${String(res.status)} ${JSON.stringify(res.body)}`);
      expect((await admin.send({ method: 'GET', path })).status, `${path} left behind`).to.equal(404);
    }
  });

  it("lets the operator's service account change caBundle of every webhook: a strategic merge patch and a whole-list merge patch", async () => {
    for (const path of [validating, mutating]) {
      const names = (await get(path)).webhooks.map((w) => w.name);
      const first = caBundle();
      const strategic = await operator.send({
        method: 'PATCH',
        path,
        contentType: 'application/strategic-merge-patch+json',
        body: { webhooks: names.map((name) => ({ name, clientConfig: { caBundle: first } })) },
      });
      expect(strategic.status, JSON.stringify(strategic.body)).to.equal(200);
      expect((await get(path)).webhooks.map((w) => w.clientConfig.caBundle)).to.deep.equal(
        names.map(() => first),
      );

      // A publisher that sends back the list it read, with a precondition on its version.
      const read = (await operator.call({ method: 'GET', path })) as WebhookConfiguration;
      const second = caBundle();
      const merge = await operator.send({
        method: 'PATCH',
        path,
        body: {
          metadata: { resourceVersion: read.metadata.resourceVersion },
          webhooks: read.webhooks.map((w) => ({
            ...w,
            clientConfig: { ...w.clientConfig, caBundle: second },
          })),
        },
      });
      expect(merge.status, JSON.stringify(merge.body)).to.equal(200);
      expect((await get(path)).webhooks.map((w) => w.clientConfig.caBundle)).to.deep.equal(
        names.map(() => second),
      );
    }
  });

  for (const row of forbidden) {
    it(`refuses the operator's service account ${row.what}`, async () => {
      const before = await get(row.path);
      expectRefused(await patch(operator, row.path, row.ops), row.fields);
      // Nothing else writes these objects: an unchanged resourceVersion means nothing was stored.
      expect((await get(row.path)).metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
    });
  }

  it('names every field a patch changes besides caBundle, and refuses caBundle along with them', async () => {
    const before = await get(validating);
    const res = await patch(operator, validating, [
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: caBundle() },
      { op: 'replace', path: '/webhooks/1/timeoutSeconds', value: 30 },
      { op: 'replace', path: '/webhooks/0/failurePolicy', value: 'Ignore' },
      { op: 'add', path: '/metadata/labels/x', value: 'y' },
    ]);
    expectRefused(res, ['webhooks[*].timeoutSeconds', 'webhooks[*].failurePolicy', 'metadata.labels']);
    expect((await get(validating)).metadata.resourceVersion).to.equal(before.metadata.resourceVersion);
  });

  for (const row of forbidden) {
    it(`lets an admin make the same change: ${row.what}`, async () => {
      const before = await get(row.path);
      const res = await patch(admin, row.path, row.ops);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect((res.body as WebhookConfiguration).metadata.resourceVersion).to.not.equal(
        before.metadata.resourceVersion,
      );
    });
  }

  it('refuses the installed service account create and delete (RBAC)', async () => {
    const created = await operator.send({
      method: 'POST',
      path: `${group}/validatingwebhookconfigurations?dryRun=All`,
      body: { metadata: { name: 'probe' }, webhooks: [] },
    });
    expect(created.status, JSON.stringify(created.body)).to.equal(403);
    for (const path of [validating, mutating]) {
      const deleted = await operator.send({ method: 'DELETE', path: `${path}?dryRun=All` });
      expect(deleted.status, JSON.stringify(deleted.body)).to.equal(403);
    }
  });

  // Defence in depth, and the overlay case: a service account named sigwatch in another namespace
  // (where a `namespace:` overlay puts it), given RBAC far beyond the install's, still may not create
  // or delete webhook configurations. Dry runs: admission is the same, and nothing is stored if it let
  // one by.
  it('refuses create and delete to a sigwatch service account in any namespace, whatever RBAC allows', async () => {
    const rules = [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'],
        verbs: ['*'],
      },
    ];
    await withClusterRules('sigwatch', rules, async (other) => {
      // Its RBAC is real (and has reached the authorizer): it may change caBundle.
      const setCa = [{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: caBundle() }];
      await eventually('the binding in effect', async () =>
        (await patch(other, validating, setCa, true)).status === 200 ? true : undefined,
      );
      const created = await other.send({
        method: 'POST',
        path: `${group}/validatingwebhookconfigurations?dryRun=All`,
        body: { metadata: { name: 'probe' }, webhooks: [] },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(403);
      expect((created.body as { message?: string }).message).to.contain('(no create or delete)');
      for (const path of [validating, mutating]) {
        const deleted = await other.send({ method: 'DELETE', path: `${path}?dryRun=All` });
        expect(deleted.status, JSON.stringify(deleted.body)).to.equal(403);
        expect((deleted.body as { message?: string }).message).to.contain('(no create or delete)');
        // An admin's identical dry run passes.
        expect((await admin.send({ method: 'DELETE', path: `${path}?dryRun=All` })).status).to.equal(200);
      }
    });
  });
});
