/**
 * The cluster profile itself (issue 15, items 1-3): a real kubelet runs a
 * runnable test image from the node-address registry and reports the digest
 * it runs; the real ReplicaSet controller and scheduler place the pod; the
 * guard rules are in place and `hack/testenv status` says so; `down` leaves
 * nothing behind on the machine. Traffic to outside addresses is never sent:
 * the guards are checked by reading the rules.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

/**
 * Kernel settings the node changes (the CNI bridge plugin turns forwarding
 * on; the kubelet sets the vm.* and kernel.* ones it wants) and `down` must
 * put back as they were.
 */
const machineSettings = [
  'net/ipv4/ip_forward',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
] as const;

const readMachineSettings = (): Record<string, string> =>
  Object.fromEntries(machineSettings.map((s) => [s, readFileSync(`/proc/sys/${s}`, 'utf8').trim()]));

/** The processes (other than this one) whose command line mentions `path`, as `pid: argv`. */
function processesMentioning(path: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let argv: string;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // It exited between the listing and the read.
    }
    if (argv.includes(path)) found.push(`${pid}: ${argv}`);
  }
  return found;
}

/** Entries of `dir` (empty when it does not exist). */
const entries = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('cluster profile (hack/testenv up --cluster)', function () {
  this.timeout(300_000);
  let dir: string;
  let vars: Map<string, string>;
  let kc: KubeConfig;
  let settingsBefore: Record<string, string>;
  let kubeletRootBefore: boolean;

  before(async function () {
    // One cluster per machine: the run's shared one (if another test started
    // it) makes way for this lifecycle test and comes back on next use.
    await stopClusterEnv();
    // What the machine looked like before this cluster (and after any earlier one's `down`).
    settingsBefore = readMachineSettings();
    kubeletRootBefore = existsSync('/var/lib/kubelet');
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
    // `status` checks the rules' order too: the rule goes back where it was.
    const listing = await sh('iptables -t mangle -S POSTROUTING');
    const position = listing
      .split('\n')
      .filter((l) => l.startsWith('-A '))
      .indexOf(`-A POSTROUTING ${rule}`);
    expect(position, `the rule in\n${listing}`).to.be.at.least(0);
    await sh(`iptables -t mangle -D POSTROUTING ${rule}`);
    try {
      const broken = await runTestenv('status', '--dir', dir);
      expect(broken.code).to.equal(1);
      expect(broken.stderr).to.contain('MISSING').and.to.contain('-d 10.0.0.0/24');
    } finally {
      await sh(`iptables -t mangle -I POSTROUTING ${String(position + 1)} ${rule}`);
    }
    expect(await sh('iptables -t mangle -S POSTROUTING')).to.equal(listing);
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

  it('down stops everything and leaves no process, interface, rule, cgroup, mount, file or kernel setting behind', async () => {
    const down = await runTestenv('down', '--dir', dir);
    expect(down.code, down.stderr).to.equal(0);
    expect(await sh('ip -o link show | grep -c "sw-node0\\|sw-cni0" || true')).to.equal('0\n');
    expect(await sh('iptables-save | grep -c "sigwatch-testenv\\|KUBE-\\|CNI-" || true')).to.equal('0\n');
    expect(await sh('ip6tables-save | grep -c "sigwatch-testenv\\|KUBE-\\|CNI-" || true')).to.equal('0\n');
    expect(await sh('ls -d /sys/fs/cgroup/*/kubepods* 2>/dev/null | wc -l')).to.equal('0\n');
    expect(await sh(`grep -c " ${dir}" /proc/mounts || true`)).to.equal('0\n');
    expect(processesMentioning(dir)).to.deep.equal([]);
    expect(readMachineSettings()).to.deep.equal(settingsBefore);
    // Written outside the directory by the kubelet and the CNI plugins.
    expect(existsSync('/var/lib/kubelet')).to.equal(kubeletRootBefore);
    expect(entries('/var/lib/cni/results').filter((f) => f.startsWith('sigwatch-testenv-'))).to.deep.equal(
      [],
    );
    const links = entries('/var/log/containers')
      .map((f) => join('/var/log/containers', f))
      .filter((f) => {
        try {
          return readlinkSync(f).startsWith(`${dir}/`);
        } catch {
          return false; // Not a link.
        }
      });
    expect(links).to.deep.equal([]);
    expect(existsSync('/run/sigwatch-testenv-cluster')).to.equal(false);
    expect(existsSync(dir)).to.equal(false);
    const again = await runTestenv('down', '--dir', dir);
    expect(again.code).to.equal(0);
  });
});
