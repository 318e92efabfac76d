/**
 * The Helm chart on a real node (issue 19, item 8): packaged, pushed to the
 * test registry as an OCI artifact, signed with cosign and checked with
 * `sigwatch verify`; pulled back and installed, upgraded and uninstalled with
 * the README's own commands (run exactly as written); the operator it installs
 * labels pods; after the uninstall and the README's clean-up no pod carries a
 * `sigwatch.dev/` label or annotation.
 *
 * The cluster's kubectl install (installedSigwatch) is removed first: the
 * chart's objects have the same names, and Helm refuses to adopt objects it
 * did not create. Later files install it again.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { runCli } from '../../../src/cli/program.js';
import { chartDir, helm } from '../../support/chart.js';
import { clusterEnv, type ClusterEnv } from '../../support/cluster.js';
import {
  airGapArgs,
  builtSigwatch,
  clusterKube,
  leaderPod,
  sigwatchNamespace,
  sigwatchPods,
  uninstallSigwatch,
  type BuiltSigwatch,
} from '../../support/cluster-sigwatch.js';
import { clusterDeploy, clusterNamespace, labelledPod } from '../../support/cluster-workloads.js';
import { generateKeyPair, sign } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRunnableImage, randomRepo } from '../../support/images.js';
import { enforceIn, PolicyObjects } from '../../support/operator-objects.js';
import { runReadmeBlock } from '../../support/readme.js';

const crds = ['imagepolicies.sigwatch.dev', 'imageaudits.sigwatch.dev', 'imageauditreports.sigwatch.dev'];

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('Helm chart on a real node: OCI push, cosign signature, install, upgrade, uninstall', function () {
  this.timeout(600_000);
  let env: ClusterEnv;
  let built: BuiltSigwatch;
  let dir = '';
  let chart: string;
  const policies = new PolicyObjects(() => env.kc);

  const kube = (): ReturnType<typeof clusterKube> => clusterKube(env);
  const shellEnv = (): Record<string, string> => ({ CHART: chart, KUBECONFIG: env.kubeconfig });

  /** sigwatch-values.yaml: the image by digest and the flags the air-gapped test cluster needs. */
  const writeValues = async (extra: Record<string, unknown> = {}): Promise<void> => {
    const ref = built.image.ref;
    const at = ref.lastIndexOf('@');
    await writeFile(
      join(dir, 'sigwatch-values.yaml'),
      stringify({
        image: { repository: ref.slice(0, at), digest: ref.slice(at + 1) },
        extraArgs: [...airGapArgs(env), '--eviction-retry-interval=5s'],
        ...extra,
      }),
    );
  };

  /** A signed and an unsigned runnable image deployed under a label-only policy; both labelled. */
  const labelsPods = async (prefix: string): Promise<void> => {
    const ns = await clusterNamespace(env, prefix);
    const signed = await pushRunnableImage(env.registry, randomRepo(prefix));
    await sign(signed.ref, built.key, 'bundle');
    const unsigned = await pushRunnableImage(env.registry, randomRepo(prefix));
    await policies.create(
      `${prefix}-${ns}`,
      enforceIn(
        ns,
        [`${env.registry}/**`],
        [{ name: 'release', key: { publicKey: await readFile(built.key.pub, 'utf8') } }],
        {
          actions: { label: true, evict: { enabled: false } },
          admission: { enabled: false },
        },
      ),
    );
    await clusterDeploy(env, ns, 'signed', signed.ref);
    await clusterDeploy(env, ns, 'unsigned', unsigned.ref);
    await labelledPod(env, ns, 'signed', 'compliant', 120_000);
    await labelledPod(env, ns, 'unsigned', 'noncompliant', 120_000);
  };

  /** Every pod in the cluster with the sigwatch.dev/ label and annotation keys it carries. */
  const marked = async (): Promise<string[]> => {
    const list = (await kube().call({ method: 'GET', path: '/api/v1/pods' })) as {
      items: { metadata: { namespace: string; name: string; labels?: object; annotations?: object } }[];
    };
    return list.items.flatMap((p) =>
      [...Object.keys(p.metadata.labels ?? {}), ...Object.keys(p.metadata.annotations ?? {})]
        .filter((k) => k.startsWith('sigwatch.dev/'))
        .map((k) => `${p.metadata.namespace}/${p.metadata.name} ${k}`),
    );
  };

  const cli = async (args: readonly string[]): Promise<{ code: number; out: string }> => {
    let out = '';
    const code = await runCli([...args], { writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    return { code, out };
  };

  before(async function () {
    // Cold: the operator image build dominates (~1 min); warm ~30 s.
    this.timeout(900_000);
    env = await clusterEnv();
    built = await builtSigwatch();
    await uninstallSigwatch(env);
    // The CRDs too (and with them every policy of earlier files): the chart's crds/ must install them.
    await exec(
      'kubectl',
      ['--kubeconfig', env.kubeconfig, 'delete', 'crd', ...crds, '--ignore-not-found', '--wait'],
      {
        timeoutMs: 120_000,
      },
    );
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-helm-'));
  });

  after(async () => {
    if (policies.count() > 0) await policies.deleteAll();
    // A failed test may leave the release: the next file installs with kubectl and needs the names free.
    if (dir === '') return; // the cluster never came up
    await helm(
      ['uninstall', 'sigwatch', '--namespace', sigwatchNamespace, '--wait', '--ignore-not-found'],
      180_000,
      { KUBECONFIG: env.kubeconfig },
    ).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('is pushed to the registry as an OCI artifact and signed with cosign; sigwatch verify accepts that signature only', async () => {
    const packaged = await helm(['package', chartDir, '--destination', dir]);
    const tgz = join(dir, 'sigwatch-0.1.0.tgz');
    expect(packaged).to.contain(tgz);
    const pushed = await helm(['push', tgz, `oci://${env.registry}/charts`, '--plain-http']);
    const digest = /Digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
    expect(digest, pushed).to.be.a('string');
    const ref = `${env.registry}/charts/sigwatch@${String(digest)}`;
    await sign(ref, built.key, 'bundle');

    const good = await cli([
      'verify',
      '--key',
      built.key.pub,
      '--insecure-registry',
      env.registry,
      '-o',
      'json',
      ref,
    ]);
    expect(good.code, good.out).to.equal(0);
    const other = await generateKeyPair();
    const bad = await cli([
      'verify',
      '--key',
      other.pub,
      '--insecure-registry',
      env.registry,
      '-o',
      'json',
      ref,
    ]);
    expect(bad.code, bad.out).not.to.equal(0);
    expect(bad.out).to.contain('NonCompliant');

    // What users install is what was pushed: the pulled chart is the packaged file, byte for byte.
    const pulledDir = join(dir, 'pulled');
    await mkdir(pulledDir);
    // By the digest that was verified (README): a tag could have been re-pushed since.
    await helm(['pull', `oci://${ref}`, '--plain-http', '--destination', pulledDir]);
    const [file, ...others] = await readdir(pulledDir);
    expect(others, 'one chart pulled').to.deep.equal([]);
    chart = join(pulledDir, String(file));
    expect(sha256(await readFile(chart))).to.equal(sha256(await readFile(tgz)));
  });

  it("installs with the README's commands: two Ready replicas, a leader, and pods labelled by verdict", async () => {
    await writeValues();
    await runReadmeBlock('helm-install', { env: shellEnv(), cwd: dir });
    for (const crd of crds) {
      expect(
        await kube().getOptional(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`),
        crd,
      ).not.to.equal(undefined);
    }
    const deployment = (await kube().call({
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${sigwatchNamespace}/deployments/sigwatch`,
    })) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> } };
    expect(deployment.metadata.labels['app.kubernetes.io/managed-by']).to.equal('Helm');
    expect(deployment.metadata.annotations['meta.helm.sh/release-name']).to.equal('sigwatch');
    const replicas = await sigwatchPods(env);
    expect(replicas.map((p) => p.ready)).to.deep.equal([true, true]);
    await leaderPod(env);
    await labelsPods('helm');
  });

  it("upgrades with the README's commands: the new values roll out, the webhook CA the leader wrote survives, pods are still judged", async () => {
    const secret = async (): Promise<Record<string, string>> =>
      (
        (await kube().call({
          method: 'GET',
          path: `/api/v1/namespaces/${sigwatchNamespace}/secrets/sigwatch-webhook-ca`,
        })) as { data?: Record<string, string> }
      ).data ?? {};
    const before = await secret();
    expect(Object.keys(before)).to.include('ca.crt');
    await writeValues({ maxOldSpaceMiB: 320 });
    await runReadmeBlock('helm-upgrade', { env: shellEnv(), cwd: dir });
    const status = JSON.parse(
      await helm(['status', 'sigwatch', '--namespace', sigwatchNamespace, '-o', 'json'], 60_000, {
        KUBECONFIG: env.kubeconfig,
      }),
    ) as { version: number };
    expect(status.version).to.equal(2);
    const deployment = (await kube().call({
      method: 'GET',
      path: `/apis/apps/v1/namespaces/${sigwatchNamespace}/deployments/sigwatch`,
    })) as { spec: { template: { spec: { containers: { command: string[] }[] } } } };
    expect(deployment.spec.template.spec.containers[0]?.command).to.include('--max-old-space-size=320');
    expect(await secret()).to.deep.equal(before);
    await labelsPods('helm-upgraded');
  });

  it("uninstalls with the README's commands; with the clean-up no pod keeps a sigwatch.dev mark, and CRDs and policies stay", async () => {
    expect(await marked(), 'pods marked before the uninstall').not.to.deep.equal([]);
    await runReadmeBlock('helm-uninstall', { env: shellEnv(), cwd: dir });
    expect(await sigwatchPods(env, true)).to.deep.equal([]);
    for (const path of [
      `/apis/apps/v1/namespaces/${sigwatchNamespace}/deployments/sigwatch`,
      '/apis/rbac.authorization.k8s.io/v1/clusterroles/sigwatch',
      '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/sigwatch',
      '/apis/apiregistration.k8s.io/v1/apiservices/v1alpha1.inventory.sigwatch.dev',
    ]) {
      expect(await kube().getOptional(path), path).to.equal(undefined);
    }
    await runReadmeBlock('cleanup', { env: shellEnv(), cwd: dir });
    expect(await marked()).to.deep.equal([]);
    await kube().call({
      method: 'GET',
      path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/imagepolicies.sigwatch.dev',
    });
    for (const name of policies.names())
      expect(await policies.storedSpec(name), name).not.to.equal(undefined);
    expect(policies.names()).to.have.length(2);
  });
});
