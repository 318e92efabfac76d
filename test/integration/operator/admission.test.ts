/**
 * The admission webhook (issue 17) as the real API server calls it: two
 * `sigwatch run` replicas, each behind its own webhook of one
 * ValidatingWebhookConfiguration (by URL on loopback, as the bare profile
 * allows), so every request is answered by the leader and by the follower;
 * the leader keeps the webhook CA Secret and publishes the bundle. Images
 * in a real registry, signed and attested by the real cosign; requests made
 * with kubectl, whose output is what a user sees. The path through the
 * install's Service runs on the cluster profile.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { mintCa } from '../../../src/operator/tls/serving-cert.js';
import { attest, generateKeyPair, sign } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConnection } from '../../support/kube.js';
import { PolicyObjects } from '../../support/operator-objects.js';
import {
  eventually,
  loopbackWebhookFlags,
  startOperatorProcess,
  type OperatorProcess,
} from '../../support/operator-process.js';
import { log4j, spdx } from '../../support/sbom-documents.js';
import { startTcpRelay, type TcpRelay } from '../../support/tcp-relay.js';
import { testEnv } from '../../support/testenv.js';

const configBase = new URL('../../../config/base/', import.meta.url);

interface KubectlResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** kubectl as a user runs it; a refusal is a result, not an exception. */
async function kubectl(args: readonly string[], stdin?: string): Promise<KubectlResult> {
  let file: string | undefined;
  if (stdin !== undefined) {
    file = join(await mkdtemp(join(tmpdir(), 'sigwatch-adm-')), 'object.yaml');
    await writeFile(file, stdin);
  }
  try {
    const r = await exec('kubectl', [...args, ...(file === undefined ? [] : ['-f', file])], {
      timeoutMs: 30_000,
    });
    return { ok: true, ...r };
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, stdout: '', stderr: message };
  }
}

const podYaml = (namespace: string, name: string, image: string): string =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'app', image }] },
  });

const deploymentYaml = (namespace: string, name: string, image: string): string =>
  JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image }] } },
    },
  });

interface Webhook {
  name: string;
  clientConfig: Record<string, unknown>;
  namespaceSelector: { matchExpressions?: unknown[]; matchLabels?: Record<string, string> };
}

/**
 * The install's two webhook configurations (config/base/webhooks.yaml) as shipped — rules, match
 * conditions, policies, timeouts — with the install's namespace replaced by this test's operator
 * namespace in their selectors.
 */
async function installWebhooks(operatorNs: string): Promise<Record<'validating' | 'mutating', Webhook[]>> {
  const text = (await readFile(new URL('webhooks.yaml', configBase), 'utf8')).replaceAll(
    'sigwatch-system',
    operatorNs,
  );
  const out: Partial<Record<'validating' | 'mutating', Webhook[]>> = {};
  for (const doc of parseAllDocuments(text)) {
    const o = doc.toJS() as { kind?: string; webhooks?: Webhook[] } | null;
    if (o?.kind === 'ValidatingWebhookConfiguration') out.validating = o.webhooks ?? [];
    if (o?.kind === 'MutatingWebhookConfiguration') out.mutating = o.webhooks ?? [];
  }
  if (out.validating === undefined || out.mutating === undefined)
    throw new Error('webhooks.yaml changed shape');
  return { validating: out.validating, mutating: out.mutating };
}

/**
 * The issuer's common name of the certificate a replica's webhook port serves now, verified as the API
 * server verifies it: against the caBundle published in the configuration, for the name in its URL.
 */
function servedIssuer(port: number, caBundle: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, servername: 'localhost', ca: caBundle, rejectUnauthorized: true },
      () => {
        const issuer = socket.getPeerCertificate().issuer.CN;
        socket.end();
        resolve(Array.isArray(issuer) ? issuer.join(',') : (issuer ?? ''));
      },
    );
    socket.on('error', reject);
  });
}

async function metric(replica: OperatorProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${String(replica.probePort)}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? '0');
}

const validations = /^sigwatch_admission_duration_seconds_count\{operation="validate"\} (\d+)$/m;

describe('operator: admission webhook (the API server calls it by URL)', function () {
  this.timeout(300_000);
  const policies = new PolicyObjects();
  const replicas: OperatorProcess[] = [];
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  const configName = `sigwatch-test-${Math.random().toString(16).slice(2, 10)}`;
  const testLabel = 'sigwatch.dev/admission-test';
  const relays: TcpRelay[] = [];
  let relay: TcpRelay;
  let downRelay: TcpRelay;
  let enforceNs: string;
  let auditNs: string;
  let denyNs: string;
  let allowNs: string;
  let operatorNs: string;
  const images: Record<'signed' | 'unsigned' | 'vulnerable' | 'exempt' | 'down', PushedImage> = {} as never;
  /** The image as pods name it: through the relay, by tag. */
  const tagged = (image: PushedImage, via: TcpRelay = relay): string =>
    `${image.repository.replace(testEnv().registry, via.address)}:v1`;

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const key = await generateKeyPair();
    relay = await startTcpRelay(testEnv().registry);
    downRelay = await startTcpRelay(testEnv().registry);
    relays.push(relay, downRelay);
    const repo = randomRepo('admission');
    for (const name of ['signed', 'unsigned', 'vulnerable', 'exempt', 'down'] as const)
      images[name] = await pushRandomImage(testEnv().registry, `${repo}/${name}`, { tag: 'v1' });
    await sign(images.signed.ref, key, 'bundle');
    await sign(images.vulnerable.ref, key, 'bundle');
    const sbomFile = join(await mkdtemp(join(tmpdir(), 'sigwatch-adm-')), 'sbom.json');
    await writeFile(sbomFile, JSON.stringify(spdx([log4j('2.14.1')])));
    await attest(images.vulnerable.ref, key, 'bundle', 'spdxjson', sbomFile);

    [enforceNs, auditNs, denyNs, allowNs, operatorNs] = await Promise.all([
      freshNamespace('adm-enforce'),
      freshNamespace('adm-audit'),
      freshNamespace('adm-deny'),
      freshNamespace('adm-allow'),
      freshNamespace('adm-op'),
    ]);
    for (const ns of [enforceNs, auditNs, denyNs, allowNs, operatorNs])
      await kube().call({
        method: 'PATCH',
        path: `/api/v1/namespaces/${ns}`,
        body: { metadata: { labels: { [testLabel]: configName } } },
      });
    const authorities = [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }];
    const inNs = (ns: string): object => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });
    await policies.create(`adm-enforce-${enforceNs}`, {
      mode: 'Enforce',
      match: { images: [`${relay.address}/${repo}/**`], namespaceSelector: inNs(enforceNs) },
      authorities,
      sbom: {
        deny: { packages: [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions: '<2.17.1' }] },
      },
      exceptions: [
        {
          images: [`${relay.address}/${repo}/exempt`],
          reason: 'vendor image, ticket SEC-42',
          expires: new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
      admission: { pinDigests: true },
    });
    await policies.create(`adm-audit-${auditNs}`, {
      mode: 'Audit',
      match: { images: [`${relay.address}/${repo}/**`], namespaceSelector: inNs(auditNs) },
      authorities,
    });
    for (const [ns, onUnknown] of [
      [denyNs, 'Deny'],
      [allowNs, 'Allow'],
    ] as const)
      await policies.create(`adm-${onUnknown.toLowerCase()}-${ns}`, {
        mode: 'Enforce',
        match: { images: [`${downRelay.address}/**`], namespaceSelector: inNs(ns) },
        authorities,
        admission: { onUnknown },
      });

    const args = [
      '--namespace',
      operatorNs,
      '--insecure-registry',
      relay.address,
      '--insecure-registry',
      downRelay.address,
      '--lease-duration',
      '3s',
      ...loopbackWebhookFlags(configName),
    ];
    replicas.push(await startOperatorProcess(args), await startOperatorProcess(args));

    // The install's webhooks, each once per replica (so every request is answered by both, leader and
    // follower), by URL on loopback instead of the Service, and only for this test's namespaces.
    const shipped = await installWebhooks(operatorNs);
    const [a, b] = replicas as [OperatorProcess, OperatorProcess];
    const perReplica = (hooks: Webhook[], replicaList: [string, OperatorProcess][]): Webhook[] =>
      replicaList.flatMap(([prefix, replica]) =>
        hooks.map((w) => ({
          ...w,
          name: `${prefix}.${w.name}`,
          clientConfig: {
            url: `https://localhost:${String(replica.webhookPort)}${(w.clientConfig['service'] as { path: string }).path}`,
          },
          namespaceSelector: { ...w.namespaceSelector, matchLabels: { [testLabel]: configName } },
        })),
      );
    await kube().call({
      method: 'POST',
      path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations',
      body: {
        metadata: { name: configName },
        webhooks: perReplica(shipped.validating, [
          ['a', a],
          ['b', b],
        ]),
      },
    });
    await kube().call({
      method: 'POST',
      path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      body: { metadata: { name: configName }, webhooks: perReplica(shipped.mutating, [['b', b]]) },
    });
    // The leader publishes the CA in every webhook, and both replicas serve a leaf of it (ready).
    await eventually(
      'the CA published and both replicas ready',
      async () => {
        const config = (await kube().call({
          method: 'GET',
          path: `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${configName}`,
        })) as { webhooks: { clientConfig: { caBundle?: string } }[] };
        if (!config.webhooks.every((w) => (w.clientConfig.caBundle ?? '') !== '')) return undefined;
        const ready = await Promise.all(
          replicas.map(async (r) => (await fetch(`http://127.0.0.1:${String(r.probePort)}/readyz`)).status),
        );
        return ready.every((s) => s === 200) ? true : undefined;
      },
      60_000,
    );
  });

  after(async () => {
    for (const kind of ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'])
      await kube().send({
        method: 'DELETE',
        path: `/apis/admissionregistration.k8s.io/v1/${kind}/${configName}`,
      });
    for (const r of replicas) await r.stop();
    await policies.deleteAll();
    for (const r of relays) await r.close();
  });

  it('refuses an unsigned pod and an unsigned Deployment at kubectl apply, naming SignatureMissing', async () => {
    const image = tagged(images.unsigned);
    const pod = await kubectl(['apply'], podYaml(enforceNs, 'unsigned', image));
    expect(pod.ok, pod.stdout).to.equal(false);
    expect(pod.stderr).to.match(/admission webhook "[ab]\.pods\.sigwatch\.dev" denied the request/);
    // The policy pins: the image was already rewritten to its digest when it was judged.
    expect(pod.stderr)
      .to.include('SignatureMissing')
      .and.include(`${image.replace(/:v1$/, '')}@${images.unsigned.digest}`);
    const deployment = await kubectl(['apply'], deploymentYaml(enforceNs, 'unsigned', image));
    expect(deployment.ok).to.equal(false);
    expect(deployment.stderr).to.include('denied the request').and.include('SignatureMissing');
    const res = await kube().send({
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${enforceNs}/deployments/unsigned`,
    });
    expect(res.status).to.equal(404);
  });

  it('admits a signed image and pins its tag to the digest that was verified', async () => {
    const r = await kubectl(['apply'], podYaml(enforceNs, 'signed', tagged(images.signed)));
    expect(r.ok, r.stderr).to.equal(true);
    const pod = (await kube().call({
      method: 'GET',
      path: `/api/v1/namespaces/${enforceNs}/pods/signed`,
    })) as {
      spec: { containers: { image: string }[] };
    };
    expect(pod.spec.containers[0]?.image).to.equal(
      `${images.signed.repository.replace(testEnv().registry, relay.address)}@${images.signed.digest}`,
    );
    // A Deployment of the signed image passes too (templates keep their tags: only pods are pinned).
    const d = await kubectl(['apply'], deploymentYaml(enforceNs, 'signed', tagged(images.signed)));
    expect(d.ok, d.stderr).to.equal(true);
  });

  it('refuses an image whose signed SBOM contains log4j-core 2.14.1 under a deny rule', async () => {
    const r = await kubectl(['apply'], podYaml(enforceNs, 'vulnerable', tagged(images.vulnerable)));
    expect(r.ok).to.equal(false);
    expect(r.stderr).to.include('SbomDeniedPackage').and.include('log4j-core');
  });

  it('Audit mode admits with a warning that kubectl prints', async () => {
    const r = await kubectl(['apply'], podYaml(auditNs, 'unsigned', tagged(images.unsigned)));
    expect(r.ok, r.stderr).to.equal(true);
    expect(r.stderr).to.match(/^Warning: .*SignatureMissing/m);
    expect(r.stderr).to.include(`adm-audit-${auditNs}`);
  });

  it('an exception admits', async () => {
    const r = await kubectl(['apply'], podYaml(enforceNs, 'exempt', tagged(images.exempt)));
    expect(r.ok, r.stderr).to.equal(true);
    const again = await kubectl(['apply'], podYaml(enforceNs, 'exempt-again', tagged(images.exempt)));
    expect(again.ok, again.stderr).to.equal(true);
  });

  it('an update: a new label is not even sent; a new image in the pod is judged like at creation', async () => {
    // An exempt pod is admitted; labelling it changes no image, so the match condition keeps it away.
    const [a, b] = replicas as [OperatorProcess, OperatorProcess];
    const before = [await metric(a, validations), await metric(b, validations)];
    const label = await kubectl(['-n', enforceNs, 'label', 'pod', 'exempt-again', 'team=shop']);
    expect(label.ok, label.stderr).to.equal(true);
    expect([await metric(a, validations), await metric(b, validations)]).to.deep.equal(before);
    // A pod's image may be changed in place: the new one is judged like at creation.
    const swap = await kubectl([
      '-n',
      enforceNs,
      'set',
      'image',
      'pod/exempt-again',
      `app=${tagged(images.unsigned)}`,
    ]);
    expect(swap.ok).to.equal(false);
    expect(swap.stderr).to.include('SignatureMissing');
  });

  it('with the registry down, each policy does what its onUnknown says', async () => {
    downRelay.cut();
    const image = tagged(images.down, downRelay);
    const denied = await kubectl(['apply'], podYaml(denyNs, 'down', image));
    expect(denied.ok).to.equal(false);
    expect(denied.stderr).to.include('is Unknown').and.include('RegistryUnavailable');
    const allowed = await kubectl(['apply'], podYaml(allowNs, 'down', image));
    expect(allowed.ok, allowed.stderr).to.equal(true);
    expect(allowed.stderr).to.match(/^Warning: .*RegistryUnavailable/m);
    downRelay.restore();
  });

  it('--dry-run=server is answered and records nothing; a real refusal leaves an Event', async () => {
    const dry = await kubectl(
      ['apply', '--dry-run=server'],
      podYaml(enforceNs, 'dry-unsigned', tagged(images.unsigned)),
    );
    expect(dry.ok).to.equal(false);
    expect(dry.stderr).to.include('SignatureMissing');
    const drySigned = await kubectl(
      ['apply', '--dry-run=server'],
      podYaml(enforceNs, 'dry-signed', tagged(images.signed)),
    );
    expect(drySigned.ok, drySigned.stderr).to.equal(true);
    expect(drySigned.stdout).to.include('(server dry run)');
    expect(
      (await kube().send({ method: 'GET', path: `/api/v1/namespaces/${enforceNs}/pods/dry-signed` })).status,
    ).to.equal(404);
    // The leader recorded the real refusals of the first test, never the dry run's.
    const events = await eventually('the refusal Event', async () => {
      if (replicas.some((r) => r.logs().includes('admission Event not recorded')))
        throw new Error(
          replicas
            .map((r) => r.logs())
            .join('\n')
            .split('\n')
            .filter((l) => l.includes('Event'))
            .join('\n'),
        );
      const list = (await kube().call({ method: 'GET', path: `/api/v1/namespaces/${enforceNs}/events` })) as {
        items: { reason: string; involvedObject: { kind: string; name: string } }[];
      };
      const refused = list.items.filter((e) => e.reason === 'AdmissionRefused');
      return refused.some(
        (e) => e.involvedObject.kind === 'Deployment' && e.involvedObject.name === 'unsigned',
      )
        ? refused
        : undefined;
    });
    // Event writes are asynchronous: a wrongly written one for the dry run would have landed by now.
    await new Promise((r) => setTimeout(r, 2_000));
    const again = (await kube().call({ method: 'GET', path: `/api/v1/namespaces/${enforceNs}/events` })) as {
      items: { reason: string; involvedObject: { name: string } }[];
    };
    expect(events.length).to.be.greaterThan(0);
    expect(
      again.items.filter((e) => e.reason === 'AdmissionRefused').map((e) => e.involvedObject.name),
    ).to.not.include('dry-unsigned');
  });

  it('never judges kube-system or the operator namespace: the API server does not even ask', async () => {
    for (const ns of ['kube-system', operatorNs])
      await kube().call({
        method: 'PATCH',
        path: `/api/v1/namespaces/${ns}`,
        body: { metadata: { labels: { [testLabel]: configName } } },
      });
    try {
      const [a, b] = replicas as [OperatorProcess, OperatorProcess];
      const before = [await metric(a, validations), await metric(b, validations)];
      for (const ns of ['kube-system', operatorNs]) {
        const r = await kubectl(
          ['apply', '--dry-run=server'],
          podYaml(ns, 'skipped', tagged(images.unsigned)),
        );
        expect(r.ok, r.stderr).to.equal(true);
      }
      expect([await metric(a, validations), await metric(b, validations)]).to.deep.equal(before);
      // The same request in a covered namespace is asked of both replicas.
      await kubectl(['apply', '--dry-run=server'], podYaml(enforceNs, 'counted', tagged(images.unsigned)));
      expect(await metric(a, validations)).to.be.greaterThan(before[0] ?? 0);
      expect(await metric(b, validations)).to.be.greaterThan(before[1] ?? 0);
    } finally {
      await kube().call({
        method: 'PATCH',
        path: '/api/v1/namespaces/kube-system',
        body: { metadata: { labels: { [testLabel]: null } } },
      });
    }
  });

  it('a CA rotation is published before any replica serves it: no request is refused for TLS', async () => {
    const [a, b] = replicas as [OperatorProcess, OperatorProcess];
    const published = async (): Promise<string> => {
      const config = (await kube().call({
        method: 'GET',
        path: `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${configName}`,
      })) as { webhooks: { clientConfig: { caBundle?: string } }[] };
      return Buffer.from(config.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
    };
    const original = await servedIssuer(a.webhookPort, await published());
    // A CA ten days from its end, with the published one still in its bundle: the leader rotates it
    // (a month ahead) at its next check, as it would a real one.
    const secretPath = `/api/v1/namespaces/${operatorNs}/secrets/sigwatch-webhook-ca`;
    const secret = (await kube().call({ method: 'GET', path: secretPath })) as {
      metadata: { resourceVersion: string };
      data: Record<string, string>;
    };
    const ending = mintCa(new Date(Date.now() - 355 * 86_400_000), 365, 'sigwatch-webhook-ca');
    const endingName = new X509Certificate(ending.certPem).subject.replace(/^CN=/, '');
    const inBundle = Buffer.from(secret.data['bundle.crt'] ?? '', 'base64').toString('utf8');
    await kube().call({
      method: 'PUT',
      path: secretPath,
      body: {
        metadata: { name: 'sigwatch-webhook-ca', resourceVersion: secret.metadata.resourceVersion },
        type: 'Opaque',
        data: {
          'ca.crt': Buffer.from(ending.certPem).toString('base64'),
          'ca.key': Buffer.from(ending.keyPem).toString('base64'),
          'bundle.crt': Buffer.from(ending.certPem + inBundle).toString('base64'),
        },
      },
    });
    let answered = 0;
    const failures: string[] = [];
    const state = { rotated: false };
    const hammer = (async () => {
      for (let i = 0; !state.rotated || i < 5; i++) {
        const r = await kubectl(
          ['apply', '--dry-run=server'],
          podYaml(enforceNs, `rot-${String(i)}`, tagged(images.unsigned)),
        );
        if (r.stderr.includes('denied the request') && r.stderr.includes('SignatureMissing')) answered++;
        else failures.push(r.stderr.slice(0, 500));
        if (i > 300) break;
      }
    })();
    const issuers = await eventually(
      'both replicas serve a new CA',
      async () => {
        const bundle = await published();
        const now = [await servedIssuer(a.webhookPort, bundle), await servedIssuer(b.webhookPort, bundle)];
        return now.every((n) => n !== original && n !== '' && n !== endingName) && now[0] === now[1]
          ? now
          : undefined;
      },
      90_000,
    );
    state.rotated = true;
    await hammer;
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(answered).to.be.greaterThan(5);
    expect(issuers[0]).to.match(/^sigwatch-webhook-ca@\d+$/);
  });
});
