/**
 * Proves the test environment is real end to end: a kube-apiserver with etcd
 * behind it (CRDs, status subresources, Eviction with PDBs, Leases,
 * events.k8s.io, TokenRequest), two OCI registries (with and without the
 * referrers API) and the real cosign CLI writing both signature formats.
 * Everything is read back with Node's own HTTP client.
 */
import {
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PolicyV1Api,
  V1MicroTime,
} from '@kubernetes/client-node';
import { expect } from 'chai';
import { attest, generateKeyPair, importCertificateKey, sign, verifyWithKey } from '../support/cosign.js';
import { startCountingProxy } from '../support/counting-proxy.js';
import { pushRandomImage, pushRandomIndex, randomRepo } from '../support/images.js';
import {
  applyCrd,
  freshNamespace,
  kubeConfig,
  mintToken,
  setPdbStatus,
  setRunning,
} from '../support/kube.js';
import { MediaType, digestTag, getBlob, getManifest, getReferrers } from '../support/oci-http.js';
import { createTestCa, issueLeaf } from '../support/test-ca.js';
import { testEnv } from '../support/testenv.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const apiErrorCode = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'number'
    ? error.code
    : undefined;

describe('test environment: kube-apiserver + etcd', () => {
  it('serves a CRD, an object of it and its status subresource', async () => {
    await applyCrd({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.testenv.sigwatch.dev' },
      spec: {
        group: 'testenv.sigwatch.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    properties: { size: { type: 'integer', maximum: 10 } },
                    'x-kubernetes-validations': [
                      { rule: 'self.size >= 1', message: 'size must be at least 1' },
                    ],
                  },
                  status: { type: 'object', properties: { phase: { type: 'string' } } },
                },
              },
            },
          },
        ],
      },
    });
    const namespace = await freshNamespace();
    const api = kubeConfig().makeApiClient(CustomObjectsApi);
    const ref = { group: 'testenv.sigwatch.dev', version: 'v1', namespace, plural: 'widgets' };
    await api.createNamespacedCustomObject({
      ...ref,
      body: {
        apiVersion: 'testenv.sigwatch.dev/v1',
        kind: 'Widget',
        metadata: { name: 'w' },
        spec: { size: 3 },
      },
    });
    await api.patchNamespacedCustomObjectStatus({
      ...ref,
      name: 'w',
      body: [{ op: 'add', path: '/status', value: { phase: 'Ready' } }],
    });
    const got = (await api.getNamespacedCustomObject({ ...ref, name: 'w' })) as {
      spec: { size: number };
      status: { phase: string };
    };
    expect(got.spec.size).to.equal(3);
    expect(got.status.phase).to.equal('Ready');

    // CEL validation runs in the real apiserver.
    const rejected = await api
      .createNamespacedCustomObject({
        ...ref,
        body: {
          apiVersion: 'testenv.sigwatch.dev/v1',
          kind: 'Widget',
          metadata: { name: 'bad' },
          spec: { size: 0 },
        },
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(apiErrorCode(rejected)).to.equal(422);
  });

  it('lets tests play the kubelet through the pod status subresource', async () => {
    const namespace = await freshNamespace();
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const img = await pushRandomImage(testEnv().registry, randomRepo());
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'p' },
        spec: { containers: [{ name: 'app', image: `${img.repository}:v1` }] },
      },
    });
    await setRunning(namespace, 'p', [{ name: 'app', image: `${img.repository}:v1`, imageID: img.ref }]);
    const pod = await core.readNamespacedPod({ name: 'p', namespace });
    expect(pod.status?.phase).to.equal('Running');
    expect(pod.status?.containerStatuses?.[0]?.imageID).to.equal(img.ref);
  });

  it('evicts through the Eviction API, honouring a PodDisruptionBudget whose status the test writes', async () => {
    const namespace = await freshNamespace();
    const kc = kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const policy = kc.makeApiClient(PolicyV1Api);
    const labels = { app: 'guarded' };
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'g', labels },
        spec: { containers: [{ name: 'c', image: 'example.test/app:1' }] },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace,
      body: { metadata: { name: 'pdb' }, spec: { minAvailable: 0, selector: { matchLabels: labels } } },
    });

    // A Pending pod is evicted without consulting PDBs: make it Running first.
    await setRunning(namespace, 'g', [
      { name: 'c', image: 'example.test/app:1', imageID: 'example.test/app@sha256:' + '0'.repeat(64) },
    ]);
    const evict = (): Promise<unknown> =>
      core.createNamespacedPodEviction({
        name: 'g',
        namespace,
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'g', namespace } },
      });
    // No disruption controller runs: until its status is written the PDB blocks.
    expect(
      apiErrorCode(
        await evict().then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    ).to.equal(429);

    await setPdbStatus(namespace, 'pdb', {
      currentHealthy: 1,
      desiredHealthy: 0,
      disruptionsAllowed: 1,
      expectedPods: 1,
    });
    await evict();
    const gone = await core.readNamespacedPod({ name: 'g', namespace }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(apiErrorCode(gone)).to.equal(404);
  });

  it('serves Leases and events.k8s.io Events with microsecond times', async () => {
    const namespace = await freshNamespace();
    const kc = kubeConfig();
    const now = new V1MicroTime(Date.now());
    const lease = await kc.makeApiClient(CoordinationV1Api).createNamespacedLease({
      namespace,
      body: {
        metadata: { name: 'sigwatch-leader' },
        spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now },
      },
    });
    expect(lease.spec?.holderIdentity).to.equal('a');
    const event = await kc.makeApiClient(EventsV1Api).createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: 'sigwatch-' },
        eventTime: now,
        type: 'Warning',
        reason: 'SignatureMissing',
        action: 'Verify',
        reportingController: 'sigwatch.dev/controller',
        reportingInstance: 'sigwatch-0',
        note: 'test event',
        regarding: { kind: 'Pod', namespace, name: 'p', apiVersion: 'v1' },
      },
    });
    expect(event.reason).to.equal('SignatureMissing');
  });

  it('mints service-account tokens with TokenRequest that authenticate as the service account', async () => {
    const namespace = await freshNamespace();
    const token = await mintToken(namespace, 'reader');
    const admin = kubeConfig();
    const kc = new KubeConfig();
    const cluster = admin.getCurrentCluster();
    if (cluster === null) {
      throw new Error('kubeconfig has no current cluster');
    }
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: 'sa', token }],
      contexts: [{ name: 'sa', cluster: cluster.name, user: 'sa' }],
      currentContext: 'sa',
    });
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).to.equal(`system:serviceaccount:${namespace}:reader`);
    // RBAC is on: the service account may not list pods.
    const denied = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(apiErrorCode(denied)).to.equal(403);
  });
});

describe('test environment: registries and cosign', () => {
  // Addresses are only known once the root hook has started the environment.
  const registries = [
    { name: 'olareg (referrers API)', address: (): string => testEnv().registry, referrersApi: true },
    {
      name: 'go-containerregistry (no referrers API)',
      address: (): string => testEnv().legacyRegistry,
      referrersApi: false,
    },
  ];

  for (const r of registries) {
    describe(`on ${r.name}`, () => {
      it('stores a random image and a multi-platform index by digest', async () => {
        const registry = r.address();
        const repo = randomRepo();
        const img = await pushRandomImage(registry, repo, { tag: 'v1' });
        const byTag = await getManifest(registry, repo, 'v1');
        expect(byTag.headers.get('docker-content-digest')).to.equal(img.digest);
        expect(byTag.body?.layers).to.have.lengthOf(2);

        const { index, platforms } = await pushRandomIndex(registry, repo, 'multi');
        const got = await getManifest(registry, repo, index.digest);
        expect(got.body?.mediaType).to.equal(MediaType.ociIndex);
        expect(got.body?.manifests?.map((m) => m.digest)).to.deep.equal(platforms.map((p) => p.digest));
      });

      it('holds a legacy cosign signature under sha256-<hex>.sig naming the signed digest', async () => {
        const registry = r.address();
        const repo = randomRepo();
        const img = await pushRandomImage(registry, repo);
        const key = await generateKeyPair();
        await sign(img.ref, key, 'legacy');

        const sig = await getManifest(registry, repo, digestTag(img.digest, '.sig'));
        const layer = sig.body?.layers?.[0];
        expect(layer?.mediaType).to.equal(MediaType.cosignSimpleSigning);
        expect(layer?.annotations?.['dev.cosignproject.cosign/signature']).to.be.a('string').that.is.not
          .empty;
        if (layer === undefined) throw new Error('no signature layer');
        const payload = JSON.parse(new TextDecoder().decode(await getBlob(registry, repo, layer.digest))) as {
          critical: { image: { 'docker-manifest-digest': string } };
        };
        expect(payload.critical.image['docker-manifest-digest']).to.equal(img.digest);
        // The real cosign accepts its own signature: the baseline is sound.
        expect(await verifyWithKey([img.ref], key)).to.contain(img.digest);
      });

      it('holds a cosign v3 bundle as a referrer, or under the sha256-<hex> fallback index', async () => {
        const registry = r.address();
        const repo = randomRepo();
        const img = await pushRandomImage(registry, repo);
        const key = await generateKeyPair();
        await sign(img.ref, key, 'bundle');

        const referrers = await getReferrers(registry, repo, img.digest);
        const fallback = await getManifest(registry, repo, digestTag(img.digest));
        let listed;
        if (r.referrersApi) {
          expect(referrers.status).to.equal(200);
          listed = referrers.body?.manifests ?? [];
          const filtered = await getReferrers(registry, repo, img.digest, MediaType.sigstoreBundle);
          expect(filtered.headers.get('oci-filters-applied')).to.equal('artifactType');
          // The registry answered the manifest PUT with OCI-Subject, so cosign
          // (go-containerregistry) skipped the fallback tag.
          expect(fallback.status).to.equal(404);
        } else {
          expect(referrers.status).to.equal(404);
          expect(fallback.body?.mediaType).to.equal(MediaType.ociIndex);
          listed = fallback.body?.manifests ?? [];
        }
        const bundleDesc = listed.find((m) => m.artifactType === MediaType.sigstoreBundle);
        if (bundleDesc === undefined) throw new Error('no bundle referrer listed');
        const bundleManifest = await getManifest(registry, repo, bundleDesc.digest);
        expect(bundleManifest.body?.subject?.digest).to.equal(img.digest);
        const layer = bundleManifest.body?.layers?.[0];
        expect(layer?.mediaType).to.equal(MediaType.sigstoreBundle);
        if (layer === undefined) throw new Error('no bundle layer');
        const bundle = JSON.parse(new TextDecoder().decode(await getBlob(registry, repo, layer.digest))) as {
          mediaType: string;
          dsseEnvelope: { payloadType: string; payload: string };
        };
        expect(bundle.mediaType).to.equal(MediaType.sigstoreBundle);
        const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
          subject: { digest: { sha256: string } }[];
        };
        expect(`sha256:${statement.subject[0]?.digest.sha256 ?? ''}`).to.equal(img.digest);
      });
    });
  }

  it('signs with a test-CA certificate carrying a Fulcio-style identity and issuer', async () => {
    const ca = await createTestCa();
    const identity = 'https://github.com/sigwatch/app/.github/workflows/release.yml@refs/heads/main';
    const leaf = await issueLeaf(ca, identity, 'https://issuer.test');
    const key = await importCertificateKey(leaf);
    const repo = randomRepo();
    const img = await pushRandomImage(testEnv().registry, repo);
    await sign(img.ref, key, 'bundle');
    const refs = await getReferrers(testEnv().registry, repo, img.digest, MediaType.sigstoreBundle);
    const desc = refs.body?.manifests?.[0];
    if (desc === undefined) throw new Error('no bundle');
    const m = await getManifest(testEnv().registry, repo, desc.digest);
    const layerDigest = m.body?.layers?.[0]?.digest;
    if (layerDigest === undefined) throw new Error('no layer');
    const bundle = JSON.parse(
      new TextDecoder().decode(await getBlob(testEnv().registry, repo, layerDigest)),
    ) as {
      verificationMaterial: { certificate?: { rawBytes: string } };
    };
    const raw = bundle.verificationMaterial.certificate?.rawBytes;
    if (raw === undefined) throw new Error('bundle has no certificate');
    const { X509Certificate } = await import('node:crypto');
    const cert = new X509Certificate(Buffer.from(raw, 'base64'));
    expect(cert.subjectAltName).to.equal(`URI:${identity}`);
  });

  it('attaches an in-toto attestation in the legacy .att format', async () => {
    const repo = randomRepo();
    const img = await pushRandomImage(testEnv().registry, repo);
    const key = await generateKeyPair();
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-pred-'));
    const predicate = join(dir, 'provenance.json');
    await writeFile(
      predicate,
      JSON.stringify({ builder: { id: 'https://builder.test' }, buildType: 'https://build.test/v1' }),
    );
    await attest(img.ref, key, 'legacy', 'slsaprovenance02', predicate);
    const att = await getManifest(testEnv().registry, repo, digestTag(img.digest, '.att'));
    expect(att.body?.layers?.[0]?.mediaType).to.equal('application/vnd.dsse.envelope.v1+json');
    expect(att.body?.layers?.[0]?.annotations?.['predicateType']).to.equal(
      'https://slsa.dev/provenance/v0.2',
    );
  });

  it('counts the requests that pass through the counting proxy', async () => {
    const proxy = await startCountingProxy(testEnv().registry);
    try {
      const repo = randomRepo();
      const img = await pushRandomImage(proxy.address, repo, { layers: 1 });
      proxy.reset();
      await getManifest(proxy.address, repo, img.digest);
      await getReferrers(proxy.address, repo, img.digest);
      expect(proxy.count('GET', `/v2/${repo}/manifests/${img.digest}`)).to.equal(1);
      expect(proxy.count('GET', /\/referrers\//)).to.equal(1);
      expect(proxy.requests).to.have.lengthOf(2);
    } finally {
      await proxy.close();
    }
  });
});
