/**
 * The webhook CA's upkeep (src/operator/admission/webhook-certs.ts) against
 * the real API server: the leader creates the CA Secret and publishes the
 * bundle into every webhook of both configurations; a replica serves a leaf
 * only of a CA every webhook trusts; a Secret restored from a backup never
 * un-trusts what is served; a configuration re-created without a caBundle
 * gets it back within the check interval. The webhooks point at a URL no
 * request is ever sent to (a namespaceSelector nothing matches).
 */
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { WebhookCertificates } from '../../../src/operator/admission/webhook-certs.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { createLogger } from '../../../src/operator/kube/logger.js';
import { mintCa, type ServingCert } from '../../../src/operator/tls/serving-cert.js';
import { freshNamespace, kubeConnection } from '../../support/kube.js';
import { eventually } from '../../support/operator-process.js';

const group = '/apis/admissionregistration.k8s.io/v1';
const pemBlocks = (text: string): string[] =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint256;

describe('operator: the webhook CA on the real API server', function () {
  this.timeout(120_000);
  let kube: KubeHttp;
  const name = `sigwatch-ca-${Math.random().toString(16).slice(2, 10)}`;
  const started: WebhookCertificates[] = [];
  let ns: string;

  const webhook = (n: string): object => ({
    name: n,
    clientConfig: { url: 'https://localhost:1/never' },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'] }],
    // Nothing carries this label: the API server never calls these webhooks.
    namespaceSelector: { matchLabels: { 'sigwatch.dev/never': name } },
    sideEffects: 'None',
    admissionReviewVersions: ['v1'],
    failurePolicy: 'Ignore',
  });
  const createValidating = (): Promise<unknown> =>
    kube.call({
      method: 'POST',
      path: `${group}/validatingwebhookconfigurations`,
      body: { metadata: { name }, webhooks: [webhook('a.sigwatch.dev'), webhook('b.sigwatch.dev')] },
    });

  /** Every webhook's caBundle, as PEM certificate lists. */
  const bundles = async (): Promise<string[][]> => {
    const out: string[][] = [];
    for (const kind of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations']) {
      const config = (await kube.call({ method: 'GET', path: `${group}/${kind}/${name}` })) as {
        webhooks: { clientConfig: { caBundle?: string } }[];
      };
      for (const w of config.webhooks)
        out.push(pemBlocks(Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8')));
    }
    return out;
  };
  const secretData = async (): Promise<Record<string, string>> => {
    const secret = (await kube.call({
      method: 'GET',
      path: `/api/v1/namespaces/${ns}/secrets/sigwatch-webhook-ca`,
    })) as { data: Record<string, string> };
    return Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
  };

  const replica = (leading: boolean, served: ServingCert[]): WebhookCertificates => {
    const certs = new WebhookCertificates({
      kube,
      logger: createLogger('error', 'json'),
      namespace: ns,
      dnsNames: ['localhost'],
      configuration: name,
      leading: () => leading,
      onCertificate: (cert) => served.push(cert),
      reconcileMs: 1_000,
    });
    started.push(certs);
    certs.start();
    return certs;
  };

  before(async () => {
    kube = new KubeHttp(kubeConnection());
    ns = await freshNamespace('webhook-ca');
    await createValidating();
    await kube.call({
      method: 'POST',
      path: `${group}/mutatingwebhookconfigurations`,
      body: { metadata: { name }, webhooks: [webhook('pin.sigwatch.dev')] },
    });
  });

  after(async () => {
    for (const c of started) c.stop();
    for (const kind of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'])
      await kube.send({ method: 'DELETE', path: `${group}/${kind}/${name}` });
  });

  it('the leader creates the CA, publishes it in every webhook, and serves a leaf of it; a follower serves one too', async () => {
    const leaderServed: ServingCert[] = [];
    replica(true, leaderServed);
    const cert = await eventually('a served certificate', () => Promise.resolve(leaderServed[0]), 30_000);
    const data = await secretData();
    const ca = data['ca.crt'] ?? '';
    expect(new X509Certificate(cert.certPem).checkIssued(new X509Certificate(ca))).to.equal(true);
    for (const bundle of await bundles()) expect(bundle.map(fingerprint)).to.include(fingerprint(ca));

    const followerServed: ServingCert[] = [];
    const follower = replica(false, followerServed);
    follower.secretChanged(data);
    const theirs = await eventually('the follower serving', () => Promise.resolve(followerServed[0]), 30_000);
    expect(new X509Certificate(theirs.certPem).checkIssued(new X509Certificate(ca))).to.equal(true);
  });

  it('a Secret restored with another CA keeps the served one trusted; replicas switch once the new one is published', async () => {
    const before = await secretData();
    const oldCa = before['ca.crt'] ?? '';
    const restored = mintCa(new Date(), 365, 'sigwatch-webhook-ca');
    const secret = (await kube.call({
      method: 'GET',
      path: `/api/v1/namespaces/${ns}/secrets/sigwatch-webhook-ca`,
    })) as { metadata: { resourceVersion: string } };
    await kube.call({
      method: 'PUT',
      path: `/api/v1/namespaces/${ns}/secrets/sigwatch-webhook-ca`,
      body: {
        metadata: { name: 'sigwatch-webhook-ca', resourceVersion: secret.metadata.resourceVersion },
        type: 'Opaque',
        data: {
          'ca.crt': Buffer.from(restored.certPem).toString('base64'),
          'ca.key': Buffer.from(restored.keyPem).toString('base64'),
          'bundle.crt': Buffer.from(restored.certPem).toString('base64'),
        },
      },
    });
    const served: ServingCert[] = [];
    const r = replica(true, served);
    r.secretChanged(await secretData());
    // Published: the restored CA and the one replicas served before, both, in every webhook.
    await eventually(
      'both CAs in every webhook',
      async () =>
        (await bundles()).every((b) => {
          const prints = b.map(fingerprint);
          return prints.includes(fingerprint(oldCa)) && prints.includes(fingerprint(restored.certPem));
        })
          ? true
          : undefined,
      30_000,
    );
    const cert = await eventually('a leaf of the restored CA', () => Promise.resolve(served[0]), 30_000);
    expect(new X509Certificate(cert.certPem).checkIssued(new X509Certificate(restored.certPem))).to.equal(
      true,
    );
    expect(pemBlocks((await secretData())['bundle.crt'] ?? '').map(fingerprint)).to.include(
      fingerprint(oldCa),
    );
  });

  it('a configuration re-created without a caBundle gets it back within the check interval', async () => {
    await kube.call({ method: 'DELETE', path: `${group}/validatingwebhookconfigurations/${name}` });
    await createValidating();
    const ca = (await secretData())['ca.crt'] ?? '';
    await eventually(
      'the bundle published again',
      async () =>
        (await bundles()).every((b) => b.map(fingerprint).includes(fingerprint(ca))) ? true : undefined,
      15_000,
    );
  });
});
