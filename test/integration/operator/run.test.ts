/**
 * `sigwatch run` end to end: the operator as a child process against the
 * real API server and registry, pods whose status the test writes as a
 * kubelet would, images signed by the real cosign. What it must show:
 * Enforce labels pods by their reported digests, Audit touches nothing, an
 * unreachable registry never yields `noncompliant`, a policy edit re-labels
 * without waiting, and policy status carries the counts and conditions.
 */
import { readFile } from 'node:fs/promises';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, setRunning } from '../../support/kube.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';
import { allCrds } from '../../../src/operator/crds.js';

const label = 'sigwatch.dev/compliance';

describe('operator: sigwatch run', function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  let operatorNs: string;
  let key: CosignKey;
  let otherKey: CosignKey;
  let signed: PushedImage;
  let unsigned: PushedImage;
  const policies: string[] = [];

  const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);
  const custom = (): CustomObjectsApi => kubeConfig().makeApiClient(CustomObjectsApi);

  async function createPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
    policies.push(name);
    await custom().createClusterCustomObject({
      group: 'sigwatch.dev',
      version: 'v1alpha1',
      plural: 'imagepolicies',
      body: { apiVersion: 'sigwatch.dev/v1alpha1', kind: 'ImagePolicy', metadata: { name }, spec },
    });
  }

  async function patchPolicy(name: string, spec: Record<string, unknown>): Promise<void> {
    const current = (await custom().getClusterCustomObject({
      group: 'sigwatch.dev',
      version: 'v1alpha1',
      plural: 'imagepolicies',
      name,
    })) as { metadata: Record<string, unknown> };
    await custom().replaceClusterCustomObject({
      group: 'sigwatch.dev',
      version: 'v1alpha1',
      plural: 'imagepolicies',
      name,
      body: { apiVersion: 'sigwatch.dev/v1alpha1', kind: 'ImagePolicy', metadata: current.metadata, spec },
    });
  }

  async function policyStatus(name: string): Promise<Record<string, unknown> | undefined> {
    const p = (await custom().getClusterCustomObject({
      group: 'sigwatch.dev',
      version: 'v1alpha1',
      plural: 'imagepolicies',
      name,
    })) as { status?: Record<string, unknown> };
    return p.status;
  }

  /** A pod running `image` (by digest, as the node reports it). */
  async function runningPod(
    namespace: string,
    name: string,
    image: PushedImage | { ref: string },
  ): Promise<void> {
    await core().createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { containers: [{ name: 'app', image: image.ref }] } },
    });
    await setRunning(namespace, name, [{ name: 'app', image: image.ref, imageID: image.ref }]);
  }

  const podLabel = async (namespace: string, name: string): Promise<string | undefined> => {
    const pod: V1Pod = await core().readNamespacedPod({ namespace, name });
    return pod.metadata?.labels?.[label];
  };

  const waitLabel = (
    namespace: string,
    name: string,
    want: string | undefined,
    timeoutMs = 15_000,
  ): Promise<true> =>
    eventually(
      `${namespace}/${name} labelled ${String(want)}`,
      async () => ((await podLabel(namespace, name)) === want ? true : undefined),
      timeoutMs,
    );

  const keyAuthority = async (k: CosignKey): Promise<Record<string, unknown>> => ({
    name: 'release',
    key: { publicKey: await readFile(k.pub, 'utf8') },
  });

  const scoped = (namespace: string): Record<string, unknown> => ({
    images: [`${testEnv().registry}/**`, '127.0.0.1:1/**'],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  });

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd as never);
    operatorNs = await freshNamespace('sigwatch');
    [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const repo = randomRepo('operator');
    [signed, unsigned] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/signed`),
      pushRandomImage(testEnv().registry, `${repo}/unsigned`),
    ]);
    await sign(signed.ref, key, 'bundle');
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--insecure-registry',
      '127.0.0.1:1',
      '--no-leader-election',
      '--log-level',
      'debug',
    ]);
  });

  after(async () => {
    const code = await operator.stop();
    for (const name of policies) {
      await custom()
        .deleteClusterCustomObject({
          group: 'sigwatch.dev',
          version: 'v1alpha1',
          plural: 'imagepolicies',
          name,
        })
        .catch(() => undefined);
    }
    expect(code, operator.logs().slice(-4000)).to.equal(0);
  });

  it('answers its probes', async () => {
    const base = `http://127.0.0.1:${String(operator.probePort)}`;
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    await eventually('readyz', async () =>
      (await fetch(`${base}/readyz`)).status === 200 ? true : undefined,
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).to.contain('sigwatch_leader 1');
  });

  it('labels pods in Enforce mode by the digest they run, and writes policy status', async () => {
    const ns = await freshNamespace('enforce');
    const name = `enforce-${ns}`;
    await createPolicy(name, { mode: 'Enforce', match: scoped(ns), authorities: [await keyAuthority(key)] });
    await Promise.all([runningPod(ns, 'good', signed), runningPod(ns, 'bad', unsigned)]);
    await Promise.all([waitLabel(ns, 'good', 'compliant'), waitLabel(ns, 'bad', 'noncompliant')]);
    const status = await eventually('policy status', async () => {
      const s = await policyStatus(name);
      const summary = s?.['summary'] as Record<string, number> | undefined;
      return summary?.['pods'] === 2 ? s : undefined;
    });
    expect(status['summary']).to.deep.include({ pods: 2, compliant: 1, nonCompliant: 1, unknown: 0 });
    const ready = (status['conditions'] as { type: string; status: string }[]).find(
      (c) => c.type === 'Ready',
    );
    expect(ready?.status).to.equal('True');
    expect(
      (status['violations'] as { pod: string; reason: string }[]).map((v) => [v.pod, v.reason]),
    ).to.deep.equal([['bad', 'SignatureMissing']]);
  });

  it('re-labels at once when the policy changes (a new authority)', async () => {
    const ns = await freshNamespace('edit');
    const name = `edit-${ns}`;
    await createPolicy(name, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(otherKey)],
    });
    await runningPod(ns, 'app', signed);
    await waitLabel(ns, 'app', 'noncompliant');
    await patchPolicy(name, { mode: 'Enforce', match: scoped(ns), authorities: [await keyAuthority(key)] });
    await waitLabel(ns, 'app', 'compliant', 5_000);
  });

  it('changes no pod in Audit mode, but counts it', async () => {
    const ns = await freshNamespace('audit');
    const name = `audit-${ns}`;
    await createPolicy(name, { mode: 'Audit', match: scoped(ns), authorities: [await keyAuthority(key)] });
    await runningPod(ns, 'bad', unsigned);
    const status = await eventually('audit status', async () => {
      const s = await policyStatus(name);
      return (s?.['summary'] as Record<string, number> | undefined)?.['nonCompliant'] === 1 ? s : undefined;
    });
    expect(status['summary']).to.deep.include({ pods: 1 });
    expect(await podLabel(ns, 'bad')).to.equal(undefined);
  });

  it('never labels noncompliant when the registry cannot be reached', async () => {
    const ns = await freshNamespace('outage');
    await createPolicy(`outage-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    const down = { ref: `127.0.0.1:1/app/down@sha256:${'ab'.repeat(32)}` };
    await runningPod(ns, 'app', down);
    await waitLabel(ns, 'app', 'unknown');
    // Give the operator time for retries: the label must stay unknown.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await podLabel(ns, 'app')).to.equal('unknown');
  });

  it('reports an invalid policy as not Ready with the field path, and keeps serving the others', async () => {
    const ns = await freshNamespace('invalid');
    const name = `invalid-${ns}`;
    await createPolicy(name, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [{ name: 'ci', keyless: { issuer: 'https://i', subjectRegExp: '^(a$' } }],
    });
    const status = await eventually('invalid policy status', async () => policyStatus(name));
    const ready = (status['conditions'] as { type: string; status: string; message: string }[]).find(
      (c) => c.type === 'Ready',
    );
    expect(ready?.status).to.equal('False');
    expect(ready?.message).to.contain('spec.authorities[0].keyless.subjectRegExp');
    await createPolicy(`valid-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    await runningPod(ns, 'good', signed);
    await waitLabel(ns, 'good', 'compliant');
  });
});
