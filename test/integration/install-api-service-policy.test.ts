/**
 * The install's ValidatingAdmissionPolicy (config/base/api-service-policy.yaml)
 * on the real API server: RBAC lets the operator's service account `patch`
 * its APIService, and the policy narrows that to `spec.caBundle`, so a
 * compromised operator cannot point the API server's front-proxy client
 * certificate at another Service. Admins are untouched.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { KubeHttp, type KubeResponse } from '../../src/operator/kube/client.js';
import { applyInstallWithoutWebhooks } from '../support/install.js';
import { mintToken, withClusterRules, kubeConnection, kubeConnectionWithToken } from '../support/kube.js';
import { eventually } from '../support/operator-process.js';

const apiServices = '/apis/apiregistration.k8s.io/v1/apiservices';
const installed = `${apiServices}/v1alpha1.inventory.sigwatch.dev`;
const policy = 'sigwatch-apiservice-cabundle-only';
const refusal = 'the sigwatch service account may change only spec.caBundle of an APIService, not ';
const labelProbe = { metadata: { labels: { 'sigwatch.dev/probe': 'x' } } };

interface ApiService {
  metadata: { resourceVersion: string; labels?: Record<string, string>; finalizers?: string[] };
  spec: {
    caBundle?: string;
    service?: { name: string };
    insecureSkipTLSVerify?: boolean;
    versionPriority: number;
  };
}

/** A client authenticated by a bearer token alone, against the test API server. */
const withToken = (token: string): KubeHttp => new KubeHttp(kubeConnectionWithToken(token));

const patch = (kube: KubeHttp, body: unknown, dryRun = false): Promise<KubeResponse> =>
  kube.send({ method: 'PATCH', path: `${installed}${dryRun ? '?dryRun=All' : ''}`, body });

/** The policy's refusal: 403 (its `reason: Forbidden`), naming the policy and the fields. */
function expectRefused(res: KubeResponse, fields: string): void {
  const body = res.body as { reason?: string; message?: string };
  expect(res.status, JSON.stringify(res.body)).to.equal(403);
  expect(body.reason).to.equal('Forbidden');
  expect(body.message).to.contain(`ValidatingAdmissionPolicy '${policy}'`);
  expect(body.message).to.contain(`${refusal}${fields}`);
}

/** Patches the installed APIService must refuse to the operator, and what each does when an admin sends it. */
const forbidden: readonly { field: string; body: unknown; applied: (s: ApiService) => boolean }[] = [
  {
    field: 'spec.service',
    body: { spec: { service: { name: 'elsewhere' } } },
    applied: (s) => s.spec.service?.name === 'elsewhere',
  },
  {
    // caBundle must go with it, or the API server's own validation refuses the pair first.
    field: 'spec.insecureSkipTLSVerify',
    body: { spec: { insecureSkipTLSVerify: true, caBundle: null } },
    applied: (s) => s.spec.insecureSkipTLSVerify === true,
  },
  {
    field: 'spec.versionPriority',
    body: { spec: { versionPriority: 99 } },
    applied: (s) => s.spec.versionPriority === 99,
  },
  {
    field: 'metadata.labels',
    body: labelProbe,
    applied: (s) => s.metadata.labels?.['sigwatch.dev/probe'] === 'x',
  },
  {
    field: 'metadata.finalizers',
    body: { metadata: { finalizers: ['sigwatch.dev/probe'] } },
    applied: (s) => s.metadata.finalizers?.includes('sigwatch.dev/probe') === true,
  },
];

describe('install: the APIService admission policy', function () {
  this.timeout(120_000);
  // Made in before(): the root hook sets KUBECONFIG only once the test environment is up.
  let admin: KubeHttp;
  let operator: KubeHttp;
  let original: ApiService | undefined;

  /** Puts the APIService back as it was before the test that changed it. */
  const restore = async (): Promise<void> => {
    if (original === undefined) return; // before() failed early: nothing was changed
    const saved = original;
    // The aggregator's availability controller writes the status meanwhile: a PUT on the version just
    // read can meet a newer one (409); read again and retry.
    await eventually('the APIService restored', async () => {
      const now = (await admin.call({ method: 'GET', path: installed })) as ApiService;
      const res = await admin.send({
        method: 'PUT',
        path: installed,
        body: { ...saved, metadata: { ...saved.metadata, resourceVersion: now.metadata.resourceVersion } },
      });
      if (res.status === 409) return undefined;
      if (res.status !== 200) throw new Error(`restoring the APIService: ${String(res.status)}`);
      return true;
    });
  };

  before(async () => {
    admin = new KubeHttp(kubeConnection());
    await applyInstallWithoutWebhooks();
    operator = withToken(await mintToken('sigwatch-system', 'sigwatch', [], 3600));
    original = (await admin.call({ method: 'GET', path: installed })) as ApiService;
    // A new policy reaches the admission plugin through an informer, a moment after it is stored; a
    // dry run asks without changing anything if the policy is not there yet.
    await eventually(
      'the policy refusing a label',
      async () => {
        const res = await patch(operator, labelProbe, true);
        return (res.body as { message?: string }).message?.includes(policy) === true ? true : undefined;
      },
      30_000,
    );
  });
  // Every test starts from the installed APIService, whatever the one before let through.
  afterEach(restore);

  it("lets the operator's service account change spec.caBundle", async () => {
    const caBundle = randomBytes(32).toString('base64');
    const res = await patch(operator, { spec: { caBundle } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect((res.body as ApiService).spec.caBundle).to.equal(caBundle);
  });

  for (const row of forbidden) {
    it(`refuses the operator's service account a patch of ${row.field}`, async () => {
      expectRefused(await patch(operator, row.body), row.field);
      // Compared by content: the aggregator's availability controller writes status meanwhile.
      const now = (await admin.call({ method: 'GET', path: installed })) as ApiService;
      expect(row.applied(now), 'the patch was stored').to.equal(false);
    });
  }

  it('names every field a patch changes besides caBundle, and refuses caBundle along with them', async () => {
    const res = await patch(operator, {
      spec: { versionPriority: 99, caBundle: 'AAAA' },
      metadata: { labels: { a: 'b' } },
    });
    expectRefused(res, '');
    const message = (res.body as { message: string }).message;
    expect(message.slice(message.indexOf(refusal) + refusal.length).split(', ')).to.have.members([
      'metadata.labels',
      'spec.versionPriority',
    ]);
  });

  for (const row of forbidden) {
    it(`lets an admin patch ${row.field}`, async () => {
      const res = await patch(admin, row.body);
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(row.applied(res.body as ApiService)).to.equal(true);
    });
  }

  // Defence in depth, and the overlay case: a service account named sigwatch in another namespace
  // (where a `namespace:` overlay puts it), given RBAC far beyond the install's, still may not create
  // or delete APIServices. Dry runs: admission is the same, and nothing is stored if it let one by.
  it('refuses create and delete to a sigwatch service account in any namespace, whatever RBAC allows', async () => {
    const rules = [{ apiGroups: ['apiregistration.k8s.io'], resources: ['apiservices'], verbs: ['*'] }];
    await withClusterRules('sigwatch', rules, async (other) => {
      // Its RBAC is real (and has reached the authorizer): it may change caBundle.
      await eventually('the binding in effect', async () =>
        (await patch(other, { spec: { caBundle: 'AAAA' } }, true)).status === 200 ? true : undefined,
      );
      const created = await other.send({
        method: 'POST',
        path: `${apiServices}?dryRun=All`,
        body: {
          metadata: { name: 'v1.probe.sigwatch.dev' },
          spec: {
            group: 'probe.sigwatch.dev',
            version: 'v1',
            groupPriorityMinimum: 1000,
            versionPriority: 15,
          },
        },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(403);
      expect((created.body as { message?: string }).message).to.contain('may only update spec.caBundle');
      const deleted = await other.send({ method: 'DELETE', path: `${installed}?dryRun=All` });
      expect(deleted.status, JSON.stringify(deleted.body)).to.equal(403);
      expect((deleted.body as { message?: string }).message).to.contain('may only update spec.caBundle');
      // An admin's identical dry run passes.
      expect((await admin.send({ method: 'DELETE', path: `${installed}?dryRun=All` })).status).to.equal(200);
    });
  });
});
