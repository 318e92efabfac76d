/**
 * The cluster profile itself (issue 15, items 1-3): a real kubelet runs a
 * runnable test image from the node-address registry and reports the digest
 * it runs; the real ReplicaSet controller and scheduler place the pod; the
 * guard rules are in place and `hack/testenv status` says so; `down` leaves
 * nothing behind on the machine. Traffic to outside addresses is never sent:
 * the guards are checked by reading the rules.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { stopClusterEnv } from '../../support/cluster.js';
import { exec } from '../../support/exec.js';
import { pushRunnableImage, randomRepo } from '../../support/images.js';
import { eventually } from '../../support/operator-process.js';
import { parseExports, required, runTestenv } from '../../support/testenv.js';

async function sh(cmd: string): Promise<string> {
  return (await exec('bash', ['-c', cmd])).stdout;
}

async function deploymentPodImageId(kc: KubeConfig, ns: string, app: string): Promise<string> {
  return eventually(
    `a Ready pod of ${ns}/${app} with an imageID`,
    async () => {
      const pods = await kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
      const ready = pods.items.find((p) =>
        p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      const id = ready?.status?.containerStatuses?.[0]?.imageID;
      return id === undefined || id === '' ? undefined : id;
    },
    90_000,
  );
}

describe('cluster profile (hack/testenv up --cluster)', function () {
  this.timeout(300_000);
  let dir: string;
  let vars: Map<string, string>;
  let kc: KubeConfig;

  before(async function () {
    // One cluster per machine: the run's shared one (if another test started
    // it) makes way for this lifecycle test and comes back on next use.
    await stopClusterEnv();
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-cluster-selftest-'));
    const up = await runTestenv('up', '--cluster', '--dir', dir);
    expect(up.code, up.stderr).to.equal(0);
    vars = parseExports(up.stdout);
    kc = new KubeConfig();
    kc.loadFromFile(required(vars, 'KUBECONFIG'));
  });

  after(async () => {
    await runTestenv('down', '--dir', dir);
  });

  it('exports the node and registries on the node address', () => {
    expect(vars.get('SIGWATCH_TEST_CLUSTER')).to.equal('1');
    expect(vars.get('SIGWATCH_TEST_NODE_IP')).to.equal('10.254.0.1');
    expect(vars.get('SIGWATCH_TEST_REGISTRY')).to.match(/^10\.254\.0\.1:\d+$/);
    expect(vars.get('SIGWATCH_TEST_LEGACY_REGISTRY')).to.match(/^10\.254\.0\.1:\d+$/);
  });

  it('reports every component healthy and the guard rules in place, and names a missing rule', async () => {
    const status = await runTestenv('status', '--dir', dir);
    expect(status.code, status.stderr).to.equal(0);
    for (const c of ['kubelet', 'containerd', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy']) {
      expect(status.stderr).to.match(new RegExp(`^${c} +healthy`, 'm'));
    }
    expect(status.stderr).to.match(/^guard +in place/m);

    const rule = '-d 10.0.0.0/24 -m comment --comment sigwatch-testenv -j DROP';
    await sh(`iptables -t mangle -D POSTROUTING ${rule}`);
    try {
      const broken = await runTestenv('status', '--dir', dir);
      expect(broken.code).to.equal(1);
      expect(broken.stderr).to.contain('MISSING').and.to.contain('-d 10.0.0.0/24');
    } finally {
      await sh(`iptables -t mangle -I POSTROUTING ${rule}`);
    }
  });

  it('refuses a second cluster on the same machine, naming the first', async () => {
    const other = await mkdtemp(join(tmpdir(), 'sigwatch-cluster-second-'));
    const second = await runTestenv('up', '--cluster', '--dir', other);
    expect(second.code).to.equal(1);
    expect(second.stderr).to.contain('already up in').and.to.contain(dir);
    expect((await runTestenv('status', '--dir', dir)).code).to.equal(0);
    await rm(other, { recursive: true, force: true });
  });

  it('runs a Deployment of a runnable image; the kubelet reports the manifest digest it runs', async () => {
    const registry = required(vars, 'SIGWATCH_TEST_REGISTRY');
    const img = await pushRunnableImage(registry, randomRepo('node-test'), 'v1');
    const ns = `node-${String(Date.now() % 100000)}`;
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'app' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'app' } },
          template: {
            metadata: { labels: { app: 'app' } },
            spec: {
              terminationGracePeriodSeconds: 5,
              containers: [
                {
                  name: 'app',
                  image: `${img.repository}:v1`,
                  readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
                },
              ],
            },
          },
        },
      },
    });
    // The kubelet's imageID is repository@digest: the digest that runs, not the tag.
    expect(await deploymentPodImageId(kc, ns, 'app')).to.equal(img.ref);
  });

  it('down stops everything and leaves no interface, rule, cgroup, mount or lock behind', async () => {
    const forwardBefore = readFileSync(join(dir, 'ip_forward'), 'utf8').trim();
    const down = await runTestenv('down', '--dir', dir);
    expect(down.code, down.stderr).to.equal(0);
    expect(await sh('ip -o link show | grep -c "sw-node0\\|sw-cni0" || true')).to.equal('0\n');
    expect(await sh('iptables-save | grep -c "sigwatch-testenv\\|KUBE-\\|CNI-" || true')).to.equal('0\n');
    expect(await sh('ip6tables-save | grep -c "sigwatch-testenv\\|KUBE-\\|CNI-" || true')).to.equal('0\n');
    expect(await sh('ls -d /sys/fs/cgroup/*/kubepods* 2>/dev/null | wc -l')).to.equal('0\n');
    expect(await sh(`grep -c " ${dir}" /proc/mounts || true`)).to.equal('0\n');
    expect(await sh(`pgrep -f "[c]ontainerd-shim-runc-v2 .*-address ${dir}/" | wc -l`)).to.equal('0\n');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).to.equal(forwardBefore);
    expect(existsSync('/run/sigwatch-testenv-cluster')).to.equal(false);
    expect(existsSync(dir)).to.equal(false);
    const again = await runTestenv('down', '--dir', dir);
    expect(again.code).to.equal(0);
  });
});
