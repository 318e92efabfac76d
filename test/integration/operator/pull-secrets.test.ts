/**
 * Registry credentials in the operator, against a private registry (a proxy
 * in front of the real one that wants Basic credentials):
 *
 * - without credentials every pod of it is `unknown` — never `noncompliant`;
 * - the operator's credentials Secret is read when it appears, without a
 *   restart, and then every pod is judged;
 * - with `--pod-pull-secrets`, a pod's own imagePullSecrets and those of its
 *   service account are used; without the flag they are not read at all.
 */
import { readFile } from 'node:fs/promises';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, setRunning } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

const login = 'alice:s3cret';

describe('operator: registry credentials', function () {
  this.timeout(120_000);
  let key: CosignKey;
  let image: PushedImage;
  let registry: CountingProxy;
  let operator: OperatorProcess | undefined;
  const policies = new PolicyObjects();
  const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);
  const privateRef = (): string => image.ref.replace(testEnv().registry, registry.address);

  /** A dockerconfigjson Secret holding `auth` for the private registry. */
  const pullSecret = async (namespace: string, name: string, auth = login): Promise<void> => {
    const config = { auths: { [registry.address]: { auth: Buffer.from(auth).toString('base64') } } };
    await core().createNamespacedSecret({
      namespace,
      body: {
        metadata: { name },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
      },
    });
  };

  const pod = async (namespace: string, name: string, spec: Partial<V1Pod['spec']> = {}): Promise<void> => {
    await core().createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { containers: [{ name: 'app', image: privateRef() }], ...spec } },
    });
    await setRunning(namespace, name, [{ name: 'app', image: privateRef(), imageID: privateRef() }]);
  };

  const label = async (namespace: string, name: string): Promise<string | undefined> =>
    (await podMarks(namespace, name)).label;

  const appNamespace = async (prefix: string): Promise<string> => {
    const ns = await freshNamespace(prefix);
    await policies.create(
      `creds-${ns}`,
      enforceIn(
        ns,
        [`${registry.address}/**`],
        [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    return ns;
  };

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    key = await generateKeyPair();
    image = await pushRandomImage(testEnv().registry, randomRepo('private'));
    await sign(image.ref, key, 'bundle');
    registry = await startCountingProxy(testEnv().registry, { basicAuth: login });
  });

  afterEach(async () => {
    if (operator !== undefined) expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
    operator = undefined;
  });

  after(async () => {
    await policies.deleteAll();
    await registry.close();
  });

  it('is unknown without credentials, and reads its own Secret when it appears', async () => {
    const operatorNs = await freshNamespace('creds-op');
    const ns = await appNamespace('creds-a');
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      registry.address,
      '--registry-credentials-secret',
      'registry-login',
      '--no-leader-election',
    ]);
    // A pod naming a pull secret: without --pod-pull-secrets it is not read.
    await pullSecret(ns, 'regcred');
    await pod(ns, 'app', { imagePullSecrets: [{ name: 'regcred' }] });
    await eventually('unknown', async () => ((await label(ns, 'app')) === 'unknown' ? true : undefined));
    expect(registry.count('GET', /.*/) + registry.count('HEAD', /.*/)).to.be.greaterThan(0);
    expect(registry.requests.every((r) => r.status === 401)).to.equal(true);

    await pullSecret(operatorNs, 'registry-login');
    // The evidence store retries failures with a backoff starting at 5 s.
    await eventually(
      'compliant',
      async () => ((await label(ns, 'app')) === 'compliant' ? true : undefined),
      30_000,
    );
    expect(registry.requests.some((r) => r.status === 200)).to.equal(true);
  });

  it("with --pod-pull-secrets, uses a pod's own pull secrets and its service account's", async () => {
    const operatorNs = await freshNamespace('creds-op');
    const ns = await appNamespace('creds-b');
    await pullSecret(ns, 'regcred');
    await pullSecret(ns, 'sa-cred');
    await pullSecret(ns, 'wrong', 'alice:wrong');
    await core().createNamespacedServiceAccount({
      namespace: ns,
      body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'sa-cred' }] },
    });
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      registry.address,
      '--pod-pull-secrets',
      '--no-leader-election',
    ]);
    // The pod with refused credentials comes first: its secret is the first candidate, and must not stop the others.
    await pod(ns, 'wrong-only', { imagePullSecrets: [{ name: 'wrong' }] });
    await pod(ns, 'own', { imagePullSecrets: [{ name: 'regcred' }] });
    await pod(ns, 'by-account', { serviceAccountName: 'builder' });
    await eventually(
      'both compliant',
      async () =>
        (await label(ns, 'own')) === 'compliant' && (await label(ns, 'by-account')) === 'compliant'
          ? true
          : undefined,
      30_000,
    );
    // The same digest: once any pod's credentials read its evidence, every pod of it is judged.
    await eventually('the third pod', async () =>
      (await label(ns, 'wrong-only')) === 'compliant' ? true : undefined,
    );
  });
});
