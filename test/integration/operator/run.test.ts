/**
 * `sigwatch run` end to end: the operator as a child process against the
 * real API server and registry, pods whose status the test writes as a
 * kubelet would, images signed by the real cosign. What it must show:
 * Enforce labels pods by their reported digests, Audit touches nothing, an
 * unreachable registry never yields `noncompliant`, a policy edit re-labels
 * without waiting, and policy status carries the counts and conditions.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { randomBytes, randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { attest, generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig } from '../../support/kube.js';
import { PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { log4j, spdx } from '../../support/sbom-documents.js';
import { testEnv } from '../../support/testenv.js';
import { allCrds } from '../../../src/operator/crds/crds.js';

const randomSuffix = (): string => randomBytes(3).toString('hex');

describe('operator: sigwatch run', function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  let operatorNs: string;
  let key: CosignKey;
  let otherKey: CosignKey;
  let signed: PushedImage;
  let unsigned: PushedImage;
  let proxy: CountingProxy;
  /** `image` as pulled through the counting proxy, so a test can count the operator's registry requests. */
  const viaProxy = (image: PushedImage): { ref: string } => ({
    ref: image.ref.replace(testEnv().registry, proxy.address),
  });
  const policies = new PolicyObjects();
  const registryPort = (): string => new URL(`tcp://${testEnv().registry}`).port;

  const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);
  const podLabel = async (namespace: string, name: string): Promise<string | undefined> =>
    (await podMarks(namespace, name)).label;

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
    images: [`${testEnv().registry}/**`, '127.0.0.1:1/**', `${proxy.address}/**`],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  });

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    operatorNs = await freshNamespace('sigwatch');
    [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const repo = randomRepo('operator');
    [signed, unsigned] = await Promise.all([
      pushRandomImage(testEnv().registry, `${repo}/signed`),
      pushRandomImage(testEnv().registry, `${repo}/unsigned`),
    ]);
    await sign(signed.ref, key, 'bundle');
    proxy = await startCountingProxy(testEnv().registry);
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--insecure-registry',
      '127.0.0.1:1',
      '--insecure-registry',
      proxy.address,
      // The same registry spelled by name, for pods that name it in upper case (finding 1).
      '--insecure-registry',
      `localhost:${registryPort()}`,
      '--no-leader-election',
      '--log-level',
      'debug',
    ]);
  });

  after(async () => {
    const code = await operator.stop();
    await policies.deleteAll();
    await proxy.close();
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
    await policies.create(name, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    await Promise.all([runningPod(ns, 'good', signed.ref), runningPod(ns, 'bad', unsigned.ref)]);
    await Promise.all([waitLabel(ns, 'good', 'compliant'), waitLabel(ns, 'bad', 'noncompliant')]);
    const status = await eventually('policy status', async () => {
      const s = await policies.status(name);
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

  /** Runs `change` and checks that the operator sent no registry request in the 5 s after it. */
  async function withoutRegistryRequests(
    change: () => Promise<void>,
    settled: () => Promise<unknown>,
  ): Promise<void> {
    await new Promise((r) => setTimeout(r, 300)); // fetches started before the change have landed
    proxy.reset();
    const started = Date.now();
    await change();
    await settled();
    await new Promise((r) => setTimeout(r, Math.max(0, 5_000 - (Date.now() - started))));
    expect(proxy.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([]);
  }

  it('re-labels at once when the policy changes (a new authority), without a registry request', async () => {
    const ns = await freshNamespace('edit');
    const name = `edit-${ns}`;
    await policies.create(name, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(otherKey)],
    });
    await runningPod(ns, 'app', viaProxy(signed).ref);
    await waitLabel(ns, 'app', 'noncompliant');
    // The first test through the proxy: the evidence was fetched through it, so silence below means something.
    expect(
      proxy.count('GET') + proxy.count('HEAD'),
      'the operator fetched through the proxy',
    ).to.be.greaterThan(0);
    const edited = { mode: 'Enforce', match: scoped(ns), authorities: [await keyAuthority(key)] };
    await withoutRegistryRequests(
      () => policies.replaceSpec(name, edited),
      () => waitLabel(ns, 'app', 'compliant', 5_000),
    );
  });

  it('re-labels at once when an SBOM rule tightens, without a registry request', async () => {
    const ns = await freshNamespace('sbom-edit');
    const name = `sbom-edit-${ns}`;
    // An image whose cosign-attested SPDX SBOM lists log4j-core 2.14.1.
    const attested = await pushRandomImage(testEnv().registry, `${randomRepo('operator')}/attested`);
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-sbom-'));
    await writeFile(join(dir, 'sbom.json'), JSON.stringify(spdx([log4j('2.14.1')])));
    await sign(attested.ref, key, 'bundle');
    await attest(attested.ref, key, 'bundle', 'spdxjson', join(dir, 'sbom.json'));
    const authority = await keyAuthority(key);
    const withDeny = (versions: string): Record<string, unknown> => ({
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [authority],
      sbom: {
        required: true,
        deny: { packages: [{ purl: 'pkg:maven/org.apache.logging.log4j/log4j-core', versions }] },
      },
    });
    await policies.create(name, withDeny('<2.0.0'));
    await runningPod(ns, 'app', viaProxy(attested).ref);
    await waitLabel(ns, 'app', 'compliant');
    await withoutRegistryRequests(
      () => policies.replaceSpec(name, withDeny('>=2.0.0,<2.17.1')),
      () => waitLabel(ns, 'app', 'noncompliant', 5_000),
    );
    expect((await podMarks(ns, 'app')).reasons).to.include('SbomDeniedPackage');
  });

  it('exports the metrics of design §5, valid for promtool', async () => {
    const text = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
    for (const name of [
      'sigwatch_verifications_total',
      'sigwatch_verification_duration_seconds',
      'sigwatch_pods',
      'sigwatch_images',
      'sigwatch_leader',
      'sigwatch_evidence_cache_hits_total',
      'sigwatch_registry_requests_total',
    ]) {
      expect(text, name).to.match(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    // --trust-refresh off (as the tests run): the root is never refreshed, so it has no age to alert on.
    expect(text).not.to.match(/^(# TYPE )?sigwatch_trust_root_age_seconds/m);
    expect(text).to.match(/^sigwatch_pods\{policy="enforce-[^"]+",verdict="NonCompliant"\} 1$/m);
    expect(text).to.match(
      /^sigwatch_registry_requests_total\{registry="127\.0\.0\.1:\d+",code="200"\} [1-9]/m,
    );
    expect(text).to.match(/^sigwatch_evidence_cache_hits_total [1-9]/m);
    expect(text).to.match(/^sigwatch_evidence_cache_misses_total [1-9]/m);
    const lint = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('promtool', ['check', 'metrics']);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => {
        resolve({ code, out });
      });
      child.stdin.end(text);
    });
    expect(lint, lint.out).to.deep.equal({ code: 0, out: '' });
  });

  it('emits one Warning Event per owner, digest and reason, however many replicas fail', async () => {
    const ns = await freshNamespace('events');
    await policies.create(`events-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    const owner = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      name: 'cart-7d9f',
      uid: randomUUID(),
      controller: true,
    };
    for (const name of ['cart-7d9f-a', 'cart-7d9f-b', 'cart-7d9f-c']) {
      await runningPod(ns, name, unsigned.ref, { ownerReferences: [owner] });
    }
    await Promise.all(['a', 'b', 'c'].map((x) => waitLabel(ns, `cart-7d9f-${x}`, 'noncompliant')));
    const events = await eventually('an event', async () => {
      const list = (await core().listNamespacedEvent({ namespace: ns })).items;
      return list.length > 0 ? list : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const all = (await core().listNamespacedEvent({ namespace: ns })).items;
    expect(all.map((e) => [e.type, e.reason])).to.deep.equal([['Warning', 'SignatureMissing']]);
    expect(events[0]?.message).to.contain('ReplicaSet cart-7d9f');
  });

  it('finding 1: labels noncompliant an unsigned image whose pod names its registry in upper case, under a policy for the lower-case host', async () => {
    const ns = await freshNamespace('spelling');
    const name = `spelling-${ns}`;
    const path = unsigned.repository.slice(testEnv().registry.length + 1);
    await policies.create(name, {
      mode: 'Enforce',
      match: {
        images: [`localhost:${registryPort()}/**`],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      },
      authorities: [await keyAuthority(key)],
    });
    // Spec image and the kubelet's imageID both name the registry `LOCALHOST:<port>`.
    await runningPod(ns, 'shouty', `LOCALHOST:${registryPort()}/${path}@${unsigned.digest}`);
    await waitLabel(ns, 'shouty', 'noncompliant');
    const status = await eventually('policy status', async () => {
      const s = await policies.status(name);
      return (s?.['violations'] as unknown[] | undefined)?.length === 1 ? s : undefined;
    });
    expect(
      (status['violations'] as { image: string; reason: string }[]).map((v) => [v.image, v.reason]),
      'status names the canonical image',
    ).to.deep.equal([[`localhost:${registryPort()}/${path}@${unsigned.digest}`, 'SignatureMissing']]);
  });

  it('changes no pod in Audit mode, but counts it', async () => {
    const ns = await freshNamespace('audit');
    const name = `audit-${ns}`;
    await policies.create(name, { mode: 'Audit', match: scoped(ns), authorities: [await keyAuthority(key)] });
    await runningPod(ns, 'bad', unsigned.ref);
    const status = await eventually('audit status', async () => {
      const s = await policies.status(name);
      return (s?.['summary'] as Record<string, number> | undefined)?.['nonCompliant'] === 1 ? s : undefined;
    });
    expect(status['summary']).to.deep.include({ pods: 1 });
    expect(await podLabel(ns, 'bad')).to.equal(undefined);
  });

  it('never labels noncompliant when the registry cannot be reached', async () => {
    const ns = await freshNamespace('outage');
    await policies.create(`outage-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    const down = { ref: `127.0.0.1:1/app/down@sha256:${'ab'.repeat(32)}` };
    await runningPod(ns, 'app', down.ref);
    await waitLabel(ns, 'app', 'unknown');
    // Give the operator time for retries: the label must stay unknown.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await podLabel(ns, 'app')).to.equal('unknown');
  });

  it('follows a key rotated in a Secret, without a registry request', async () => {
    const ns = await freshNamespace('rotate');
    const secretName = `cosign-${ns}`;
    const secretBody = async (k: CosignKey): Promise<Record<string, unknown>> => ({
      metadata: { name: secretName },
      stringData: { 'cosign.pub': await readFile(k.pub, 'utf8') },
    });
    await core().createNamespacedSecret({ namespace: operatorNs, body: await secretBody(key) });
    await policies.create(`rotate-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [{ name: 'rotating', key: { secretRef: { name: secretName, key: 'cosign.pub' } } }],
    });
    await runningPod(ns, 'app', viaProxy(signed).ref);
    await waitLabel(ns, 'app', 'compliant');
    const rotated = await secretBody(otherKey);
    await withoutRegistryRequests(
      async () => {
        await core().replaceNamespacedSecret({ namespace: operatorNs, name: secretName, body: rotated });
      },
      () => waitLabel(ns, 'app', 'noncompliant', 5_000),
    );
  });

  it('flips an exempted pod when its exception expires, with no other trigger', async () => {
    const ns = await freshNamespace('expiry');
    const expires = new Date(Date.now() + 4_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await policies.create(`expiry-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
      exceptions: [{ images: [unsigned.repository], reason: 'SEC-1', expires }],
    });
    await runningPod(ns, 'app', unsigned.ref);
    await waitLabel(ns, 'app', 'compliant');
    const pod = await core().readNamespacedPod({ namespace: ns, name: 'app' });
    expect(pod.metadata?.annotations?.['sigwatch.dev/exempt-by']).to.equal(`expiry-${ns}`);
    const metrics = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
    expect(metrics).to.contain(
      `sigwatch_exception_expiry_timestamp_seconds{policy="expiry-${ns}"} ${String(Date.parse(expires) / 1000)}`,
    );
    await waitLabel(ns, 'app', 'noncompliant', 10_000);
  });

  it('reports an invalid policy as not Ready with the field path, and keeps serving the others', async () => {
    const ns = await freshNamespace('invalid');
    const name = `invalid-${ns}`;
    await policies.create(name, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [{ name: 'ci', keyless: { issuer: 'https://i', subjectRegExp: '^(a$' } }],
    });
    const status = await eventually('invalid policy status', async () => policies.status(name));
    const ready = (status['conditions'] as { type: string; status: string; message: string }[]).find(
      (c) => c.type === 'Ready',
    );
    expect(ready?.status).to.equal('False');
    expect(ready?.message).to.contain('spec.authorities[0].keyless.subjectRegExp');
    await policies.create(`valid-${ns}`, {
      mode: 'Enforce',
      match: scoped(ns),
      authorities: [await keyAuthority(key)],
    });
    await runningPod(ns, 'good', signed.ref);
    await waitLabel(ns, 'good', 'compliant');
  });

  it('never touches kube-system, even for a policy stored with a misspelt excludeNamespaces', async () => {
    const name = `typo-${randomSuffix()}`;
    const spec = {
      mode: 'Enforce',
      match: {
        images: [`${testEnv().registry}/**`],
        podSelector: { matchLabels: { check: name } },
        excludNamespaces: [],
      },
      authorities: [await keyAuthority(key)],
    };
    await policies.create(name, spec, 'Ignore');
    const ns = await freshNamespace('typo');
    await runningPod('kube-system', name, unsigned.ref, { labels: { check: name } });
    // The same policy does act in an ordinary namespace: the quiet in kube-system is the built-in rule.
    await runningPod(ns, 'app', unsigned.ref, { labels: { check: name } });
    await waitLabel(ns, 'app', 'noncompliant');
    expect(await podLabel('kube-system', name)).to.equal(undefined);
  });
});
