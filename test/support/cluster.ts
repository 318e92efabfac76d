/**
 * The cluster profile of the test environment (`hack/testenv up --cluster`):
 * a real node (kubelet, containerd, CNI), the controllers, the scheduler and
 * kube-proxy. Started on first use by the tests that need it and stopped by
 * the root hook after the last test; the bare environment of the other tests
 * keeps running beside it, and its variables stay in `process.env` — cluster
 * tests pass this environment's kubeconfig and registries explicitly.
 *
 * One cluster runs per machine (it owns the node's network interfaces and
 * kube-proxy's iptables chains): a second run's start fails with the first
 * one's directory in the message.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { required, testenvDown, testenvUp } from './testenv.js';

export interface ClusterEnv {
  readonly dir: string;
  readonly kubeconfig: string;
  /** host:port of the referrers registry, on the node address (pods and containerd reach it). */
  readonly registry: string;
  /** host:port of the registry without the referrers API, on the node address. */
  readonly legacyRegistry: string;
  readonly nodeName: string;
  readonly nodeIp: string;
  /** containerd's socket (for `ctr --address`). */
  readonly containerd: string;
  readonly kc: KubeConfig;
}

let starting: Promise<ClusterEnv> | undefined;

/** The run's cluster, started on the first call (~15 s from built binaries). */
export function clusterEnv(): Promise<ClusterEnv> {
  starting ??= start();
  return starting;
}

async function start(): Promise<ClusterEnv> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-cluster-'));
  const vars = await testenvUp(dir, true, 'cluster');
  const kubeconfig = required(vars, 'KUBECONFIG');
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  process.stderr.write(`[testenv] cluster ready in ${String(Date.now() - started)} ms\n`);
  return {
    dir,
    kubeconfig,
    registry: required(vars, 'SIGWATCH_TEST_REGISTRY'),
    legacyRegistry: required(vars, 'SIGWATCH_TEST_LEGACY_REGISTRY'),
    nodeName: required(vars, 'SIGWATCH_TEST_NODE_NAME'),
    nodeIp: required(vars, 'SIGWATCH_TEST_NODE_IP'),
    containerd: required(vars, 'SIGWATCH_TEST_CONTAINERD'),
    kc,
  };
}

/** Stops the run's cluster if one was started (the root hook's afterAll). */
export async function stopClusterEnv(): Promise<void> {
  const pending = starting;
  starting = undefined;
  if (pending === undefined) return;
  const env = await pending.catch(() => undefined);
  // A failed start already stopped what it started (testenvUp).
  if (env !== undefined) await testenvDown(env.dir);
}
