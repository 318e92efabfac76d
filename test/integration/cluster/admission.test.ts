/**
 * Admission through the install (issue 17): the API server calls the
 * webhooks of manifests/install.yaml through the Service `sigwatch-webhook`
 * (kube-proxy picks a replica), with the caBundle the leader published. What
 * a user sees is kubectl's output; what runs is what the kubelet reports.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { ClusterEnv } from '../../support/cluster.js';
import {
  clusterKube,
  installedSigwatch,
  sigwatchNamespace,
  sigwatchPods,
} from '../../support/cluster-sigwatch.js';
import { deploymentObject } from '../../support/cluster-workloads.js';
import { sign, type CosignKey } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRunnableImage, randomRepo, type PushedImage } from '../../support/images.js';
import { enforceIn, PolicyObjects } from '../../support/operator-objects.js';
import { eventually } from '../../support/operator-process.js';

describe('admission through the installed webhooks', function () {
  this.timeout(300_000);
  let env: ClusterEnv;
  let key: CosignKey;
  const policies = new PolicyObjects(() => env.kc);
  let ns: string;
  let signed: PushedImage;
  let unsigned: PushedImage;

  /** kubectl as the cluster's admin; a refusal is a result. */
  const kubectl = async (args: readonly string[], object?: object): Promise<{ ok: boolean; out: string }> => {
    let file: string | undefined;
    if (object !== undefined) {
      file = join(await mkdtemp(join(tmpdir(), 'sigwatch-adm-')), 'object.json');
      await writeFile(file, JSON.stringify(object));
    }
    try {
      const r = await exec(
        'kubectl',
        ['--kubeconfig', env.kubeconfig, ...args, ...(file === undefined ? [] : ['-f', file])],
        { timeoutMs: 60_000 },
      );
      return { ok: true, out: r.stdout + r.stderr };
    } catch (error: unknown) {
      return { ok: false, out: error instanceof Error ? error.message : String(error) };
    }
  };

  const deployment = (namespace: string, name: string, image: string): object =>
    deploymentObject(namespace, name, image);

  const pod = (namespace: string, name: string, image: string): object => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { automountServiceAccountToken: false, containers: [{ name: 'app', image }] },
  });

  /** Each replica's count of answered validations, from its /metrics over the pod network. */
  const validations = async (): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    for (const p of await sigwatchPods(env)) {
      const text = await (
        await fetch(`http://${p.ip}:8081/metrics`, { signal: AbortSignal.timeout(10_000) })
      ).text();
      const m = /^sigwatch_admission_duration_seconds_count\{operation="validate"\} (\d+)$/m.exec(text);
      out.set(p.name, Number(m?.[1] ?? '0'));
    }
    return out;
  };

  before(async function () {
    this.timeout(900_000);
    ({ env, key } = await installedSigwatch());
    ns = `e2e-admission-${String(Date.now() % 1_000_000)}`;
    const kube = clusterKube(env);
    await kube.call({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: ns } } });
    await eventually(`ServiceAccount ${ns}/default`, () =>
      kube.call({ method: 'GET', path: `/api/v1/namespaces/${ns}/serviceaccounts/default` }),
    );
    const repo = randomRepo('e2e-admission');
    signed = await pushRunnableImage(env.registry, `${repo}/signed`, 'v1');
    await sign(signed.ref, key, 'bundle');
    unsigned = await pushRunnableImage(env.registry, `${repo}/unsigned`, 'v1');
    await policies.create(
      `admission-${ns}`,
      enforceIn(
        ns,
        [`${env.registry}/${repo}/**`],
        [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
        {
          actions: { label: true, evict: { enabled: false } },
          admission: { pinDigests: true },
        },
      ),
    );
  });

  after(async () => {
    if (policies.count() > 0) await policies.deleteAll();
  });

  it('refuses an unsigned Deployment at kubectl apply; a signed one runs its pinned, verified digest', async () => {
    const refused = await kubectl(['apply'], deployment(ns, 'unsigned', `${unsigned.repository}:v1`));
    expect(refused.ok).to.equal(false);
    expect(refused.out)
      .to.match(/admission webhook "workloads\.sigwatch\.dev" denied the request/)
      .and.include('SignatureMissing');

    const admitted = await kubectl(['apply'], deployment(ns, 'signed', `${signed.repository}:v1`));
    expect(admitted.ok, admitted.out).to.equal(true);
    const running = await eventually(
      'the signed Deployment’s pod running',
      async () => {
        const list = (await clusterKube(env).call({
          method: 'GET',
          path: `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dsigned`,
        })) as {
          items: {
            spec: { containers: { image: string }[] };
            status?: { containerStatuses?: { imageID?: string; ready?: boolean }[] };
          }[];
        };
        const p = list.items[0];
        return p?.status?.containerStatuses?.[0]?.ready === true ? p : undefined;
      },
      120_000,
    );
    // Pinned by the mutating webhook: the pod names the digest, and the kubelet runs exactly it.
    expect(running.spec.containers[0]?.image).to.equal(signed.ref);
    expect(running.status?.containerStatuses?.[0]?.imageID).to.equal(signed.ref);
  });

  it('every replica answers with a certificate the API server trusts; kube-system and the operator’s namespace are never sent', async () => {
    // The API server keeps its connection to the Service's ClusterIP alive, so kube-proxy sends one
    // connection's requests to one replica: each replica is asked directly, as the API server would ask
    // it, with the published caBundle and the Service's DNS name.
    const config = (await clusterKube(env).call({
      method: 'GET',
      path: '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/sigwatch',
    })) as { webhooks: { clientConfig: { caBundle: string } }[] };
    const ca = Buffer.from(config.webhooks[0]?.clientConfig.caBundle ?? '', 'base64').toString('utf8');
    const slices = (await clusterKube(env).call({
      method: 'GET',
      path: `/apis/discovery.k8s.io/v1/namespaces/${sigwatchNamespace}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dsigwatch-webhook`,
    })) as { items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[] };
    const endpoints = slices.items
      .flatMap((sl) => sl.endpoints ?? [])
      .filter((e) => e.conditions?.ready === true)
      .flatMap((e) => e.addresses)
      .sort();
    expect(endpoints).to.deep.equal((await sigwatchPods(env)).map((p) => p.ip).sort());
    const review = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'e2e-direct',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: ns,
        operation: 'CREATE',
        object: pod(ns, 'direct', `${unsigned.repository}:v1`),
      },
    });
    for (const ip of endpoints) {
      const answer = await new Promise<{ response: { allowed: boolean; status?: { message: string } } }>(
        (resolve, reject) => {
          const req = request(
            {
              host: ip,
              port: 9443,
              path: '/validate',
              method: 'POST',
              ca,
              servername: `sigwatch-webhook.${sigwatchNamespace}.svc`,
              headers: { 'content-type': 'application/json' },
              signal: AbortSignal.timeout(15_000),
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => {
                resolve(JSON.parse(text) as { response: { allowed: boolean; status?: { message: string } } });
              });
            },
          );
          req.on('error', reject);
          req.end(review);
        },
      );
      expect(answer.response.allowed, ip).to.equal(false);
      expect(answer.response.status?.message, ip).to.include('SignatureMissing');
    }

    // Through the API server: a covered namespace is asked; the system ones and Sigwatch's own never.
    const total = async (): Promise<number> => [...(await validations()).values()].reduce((a, b) => a + b, 0);
    const before = await total();
    const r = await kubectl(['apply', '--dry-run=server'], pod(ns, 'dry', `${unsigned.repository}:v1`));
    expect(r.ok).to.equal(false);
    expect(r.out).to.include('SignatureMissing');
    const after = await total();
    expect(after).to.be.greaterThan(before);
    for (const system of ['kube-system', sigwatchNamespace]) {
      const sys = await kubectl(
        ['apply', '--dry-run=server'],
        pod(system, 'never-judged', `${unsigned.repository}:v1`),
      );
      expect(sys.ok, sys.out).to.equal(true);
    }
    expect(await total()).to.equal(after);
  });
});
