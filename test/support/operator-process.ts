/**
 * `sigwatch run` as a child process, the way it runs in a cluster: its own
 * process, the test environment's kubeconfig, probes on a free port. Tests
 * read its probe port from stderr and stop it with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEnv } from './testenv.js';

const mainTs = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface OperatorProcess {
  readonly probePort: number;
  /** Port of its aggregated API (TLS, front-proxy clients only) on 127.0.0.1. */
  readonly apiPort: number;
  /** Port of its admission webhook on 127.0.0.1 when started with `--webhook-port`; 0 otherwise. */
  readonly webhookPort: number;
  readonly logs: () => string;
  stop(): Promise<number | null>;
  /** SIGKILL: the process vanishes without cleaning up (no lease release), as a crashed node would. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process freezes and resumes, as under a long pause or a network partition. */
  pause(): void;
  resume(): void;
}

/**
 * What a pod gives the operator: the service variables and a service-account
 * directory mounted at the documented path.
 */
export interface InCluster {
  /** Holds `token`, `ca.crt` and `namespace`. */
  readonly serviceAccountDir: string;
  readonly host: string;
  readonly port: string;
  /** An empty directory for HOME, so no `~/.kube/config` is found. */
  readonly home: string;
}

/**
 * `node …` in a private mount namespace (`unshare`, as root) where a tmpfs
 * over /run carries `serviceAccountDir` at /var/run/secrets/kubernetes.io/
 * serviceaccount, as the kubelet mounts it; nothing changes outside that
 * process. The kubeconfig variable is dropped from `env` (changed in place).
 */
function inPod(pod: InCluster, nodeArgs: readonly string[], env: NodeJS.ProcessEnv): [string, string[]] {
  delete env['KUBECONFIG'];
  env['HOME'] = pod.home;
  env['KUBERNETES_SERVICE_HOST'] = pod.host;
  env['KUBERNETES_SERVICE_PORT'] = pod.port;
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const script = `set -e; mount -t tmpfs -o size=1m tmpfs /run; mkdir -p ${sa}; mount --bind "$1" ${sa}; shift; exec "$@"`;
  return [
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      script,
      'sh',
      pod.serviceAccountDir,
      process.execPath,
      ...nodeArgs,
    ],
  ];
}

export async function startOperatorProcess(
  args: readonly string[],
  options: {
    readonly env?: Readonly<Record<string, string>>;
    readonly timeoutMs?: number;
    /** What node runs before `run`: default the sources through tsx; the benchmark runs `dist/main.js`. */
    readonly entry?: readonly string[];
    readonly kubeconfig?: string;
    /** Run as in a pod instead of with a kubeconfig (see {@link InCluster}); needs root. */
    readonly inCluster?: InCluster;
    /** Exactly `args` after `run` (and the kubeconfig): none of the loopback defaults below, which would hide a missing flag. */
    readonly asGiven?: boolean;
  } = {},
): Promise<OperatorProcess> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const nodeArgs = [
    ...(options.entry ?? ['--import', 'tsx', mainTs]),
    'run',
    ...(options.inCluster === undefined ? ['--kubeconfig', options.kubeconfig ?? testEnv().kubeconfig] : []),
    ...(options.asGiven === true
      ? []
      : [
          '--probe-address',
          '127.0.0.1',
          '--probe-port',
          '0',
          // Tests stay on loopback: no TUF refresh unless a test asks for one (a later flag wins).
          '--trust-refresh',
          'off',
          // The aggregated API on loopback, on a free port (two replicas in one test must not collide).
          '--api-address',
          '127.0.0.1',
          '--api-port',
          '0',
        ]),
    ...args,
  ];
  const env = { ...process.env, ...options.env };
  const [command, commandArgs] =
    options.inCluster === undefined ? [process.execPath, nodeArgs] : inPod(options.inCluster, nodeArgs, env);
  const child: ChildProcess = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  const probePort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`operator did not start in time:\n${output}`));
    }, timeoutMs);
    const check = (): void => {
      const m = /probes on port (\d+)/.exec(output);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`operator exited with ${String(code)}:\n${output}`));
    });
  });
  const apiPort = /aggregated API on port (\d+)/.exec(output)?.[1];
  const webhookPort = /admission webhook on port (\d+)/.exec(output)?.[1];
  return {
    probePort,
    apiPort: Number(apiPort ?? '0'),
    webhookPort: Number(webhookPort ?? '0'),
    logs: () => output,
    pause(): void {
      child.kill('SIGSTOP');
    },
    resume(): void {
      child.kill('SIGCONT');
    },
    async kill(): Promise<void> {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Flags for an admission webhook on a free loopback port (`webhookPort` says
 * which), its certificate minted for `localhost` from the CA the leader keeps,
 * and the webhook configurations named `configuration` kept up to date (when
 * none exists, each replica serves its certificate at once).
 */
export function loopbackWebhookFlags(configuration: string): string[] {
  return [
    '--webhook-port',
    '0',
    '--webhook-address',
    '127.0.0.1',
    '--webhook-dns-name',
    'localhost',
    '--webhook-configuration',
    configuration,
  ];
}

/** Polls `probe` until it returns a value other than undefined, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error: unknown) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
