/**
 * A private containerd (Debian's containerd and runc, hack/install-apt.sh)
 * started as a child process of the test, with its root, state, socket, runc
 * state and FIFOs under one temporary directory, the CRI plugin off: a real
 * container runtime for one image, next to nothing else on the machine
 * (the containerd of a test cluster, or of the machine, is never touched).
 * Needs root, as containerd does.
 *
 * What a run leaves outside that directory, and how it goes away:
 * - cgroups: every container gets `--cgroup <dir name>/<id>`, so the parent
 *   is ours by name and removed in every hierarchy;
 * - processes: containerd (pid file), its shims (their `-address` names our
 *   socket) and container init processes (runc's state.json, checked against
 *   the process start time as runc does);
 * - mounts: overlay root filesystems under the directory, unmounted deepest
 *   first before the directory is removed.
 * `stop()` undoes all of it; a test run that dies before `stop()` leaves a
 * directory whose `owner` pid is gone, and the next `startContainerd()` sweeps
 * it by the same steps. The shim sockets containerd 1.6 keeps in
 * /run/containerd/s are removed by the shims themselves when they exit.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const prefix = 'sigwatch-containerd-';
/** One namespace is enough: the daemon is private. */
const namespace = 'sigwatch-test';

export interface CtrResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PrivateContainerd {
  readonly dir: string;
  /** Pulls an image from a loopback registry (plain HTTP). */
  pull(ref: string, signal: AbortSignal): Promise<void>;
  /**
   * Runs an image once (`ctr run --rm --read-only`): its config's user,
   * working directory, environment, entrypoint and cmd, unless `args` replaces
   * the whole command line. No network but its own loopback.
   */
  run(ref: string, args: readonly string[], signal: AbortSignal): Promise<CtrResult>;
  stop(): Promise<void>;
}

/** `ctr` against a private socket; resolves with the exit code instead of rejecting on it. */
async function ctr(dir: string, args: readonly string[], signal: AbortSignal): Promise<CtrResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'ctr',
      ['--address', join(dir, 'containerd.sock'), '--namespace', namespace, ...args],
      { signal, maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`ctr ${args.join(' ')}: ${error.message}`, { cause: error }));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

function config(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
# No Kubernetes here: only the plugins ctr needs.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cmdline(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${String(pid)}/cmdline`, 'utf8')).split('\0');
  } catch {
    return [];
  }
}

async function pidsWhoseArgsName(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && (await cmdline(pid)).some((a) => a.includes(text))) found.push(pid);
  }
  return found;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), which runc records as `init_process_start`. */
async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${String(pid)}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Mount points at or under `dir` in this mount namespace (where containerd mounts), deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return points.sort((a, b) => b.length - a.length);
}

async function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error !== null) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim()}`, { cause: error }));
      else resolve();
    });
  });
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

/** Removes a cgroup directory tree bottom-up (rmdir only: a cgroup with a live process stays and is reported). */
async function removeCgroup(path: string): Promise<void> {
  if (!existsSync(path)) return;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory()) await removeCgroup(join(path, entry.name));
  }
  await rmdir(path);
}

/**
 * Undoes everything a private containerd in `dir` did, whether it is still
 * running or its test died: containers, containerd, shims, container
 * processes, mounts, cgroups, then the directory. Throws the problems it
 * could not fix, after trying every step.
 */
async function cleanUp(dir: string): Promise<void> {
  const problems: unknown[] = [];
  const attempt = async (step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (error: unknown) {
      problems.push(error);
    }
  };
  const daemonPid = Number((await readFile(join(dir, 'containerd.pid'), 'utf8').catch(() => '')).trim());
  const daemonIsOurs =
    Number.isInteger(daemonPid) && daemonPid > 0 && (await cmdline(daemonPid)).some((a) => a.includes(dir));
  if (daemonIsOurs) {
    // While containerd answers, let it stop its own containers and shims.
    await attempt(async () => {
      const signal = AbortSignal.timeout(20_000);
      const tasks = await ctr(dir, ['tasks', 'ls', '-q'], signal);
      for (const id of tasks.stdout.split('\n').filter((l) => l !== '')) {
        await ctr(dir, ['tasks', 'kill', '-s', 'SIGKILL', id], signal);
        await ctr(dir, ['tasks', 'delete', '-f', id], signal);
      }
      const containers = await ctr(dir, ['containers', 'ls', '-q'], signal);
      for (const id of containers.stdout.split('\n').filter((l) => l !== '')) {
        await ctr(dir, ['containers', 'delete', id], signal);
      }
    });
    await attempt(async () => {
      process.kill(daemonPid, 'SIGTERM');
      if (!(await waitGone(daemonPid, 15_000))) {
        process.kill(daemonPid, 'SIGKILL');
        await waitGone(daemonPid, 5_000);
      }
    });
  }
  // Container processes runc started (if a shim died before its container).
  await attempt(async () => {
    const runcRoot = join(dir, 'runc', namespace);
    if (!existsSync(runcRoot)) return;
    for (const id of await readdir(runcRoot)) {
      const state = JSON.parse(
        await readFile(join(runcRoot, id, 'state.json'), 'utf8').catch(() => '{}'),
      ) as {
        init_process_pid?: number;
        init_process_start?: number;
      };
      const pid = state.init_process_pid;
      if (pid !== undefined && (await startTime(pid)) === String(state.init_process_start)) {
        process.kill(pid, 'SIGKILL');
      }
    }
  });
  await attempt(async () => {
    for (const pid of await pidsWhoseArgsName(join(dir, 'containerd.sock'))) {
      process.kill(pid, 'SIGKILL');
      await waitGone(pid, 5_000);
    }
  });
  await attempt(async () => {
    for (const point of await mountsUnder(dir)) {
      await run('umount', [point]).catch(() => run('umount', ['-l', point]));
    }
  });
  await attempt(async () => {
    const parent = basename(dir);
    const hierarchies = (await readdir('/sys/fs/cgroup', { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => join('/sys/fs/cgroup', e.name));
    // cgroup v1: one tree per controller; v2: the unified root itself.
    for (const root of [...hierarchies, '/sys/fs/cgroup']) await removeCgroup(join(root, parent));
  });
  // Never remove a directory with something still mounted in it: rm would reach into the mount.
  const left = await mountsUnder(dir);
  if (left.length === 0) await attempt(() => rm(dir, { recursive: true, force: true }));
  else problems.push(new Error(`still mounted, ${dir} kept: ${left.join(', ')}`));
  if (problems.length > 0) throw new AggregateError(problems, `cleaning up the private containerd in ${dir}`);
}

/** Cleans up the directories of earlier runs whose test process is gone. */
async function sweepStale(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number((await readFile(join(dir, 'owner'), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    await cleanUp(dir).catch((error: unknown) => {
      process.stderr.write(`[containerd] could not clean up ${dir}: ${String(error)}\n`);
    });
  }
}

export async function startContainerd(signal: AbortSignal): Promise<PrivateContainerd> {
  if (process.getuid?.() !== 0) throw new Error('containerd needs root; run this test as root');
  await sweepStale();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await writeFile(join(dir, 'owner'), `${String(process.pid)}\n`);
  await writeFile(join(dir, 'config.toml'), config(dir));
  const log = openSync(join(dir, 'containerd.log'), 'a');
  let child: ChildProcess;
  let spawnError: Error | undefined;
  try {
    child = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', log, log] });
    child.on('error', (error) => (spawnError = error));
  } finally {
    closeSync(log);
  }
  const failStart = async (why: string): Promise<never> => {
    const tail = (await readFile(join(dir, 'containerd.log'), 'utf8').catch(() => '')).slice(-2000);
    await cleanUp(dir).catch(() => undefined);
    throw new Error(`containerd ${why}:\n${tail}`);
  };
  if (child.pid === undefined) return failStart('did not start');
  await writeFile(join(dir, 'containerd.pid'), `${String(child.pid)}\n`);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (spawnError !== undefined) return failStart(`could not be started: ${spawnError.message}`);
    if (child.exitCode !== null) return failStart(`exited with ${String(child.exitCode)}`);
    if ((await ctr(dir, ['version'], AbortSignal.any([signal, AbortSignal.timeout(5_000)]))).code === 0)
      break;
    if (Date.now() > deadline) return failStart('did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  let runs = 0;
  return {
    dir,
    async pull(ref, pullSignal) {
      const r = await ctr(dir, ['images', 'pull', '--plain-http', ref], pullSignal);
      if (r.code !== 0) throw new Error(`ctr images pull ${ref} exited ${String(r.code)}: ${r.stderr}`);
    },
    async run(ref, args, runSignal) {
      runs += 1;
      const id = `run-${String(runs)}`;
      return ctr(
        dir,
        [
          'run',
          '--rm',
          '--read-only',
          '--runc-root',
          join(dir, 'runc'),
          '--fifo-dir',
          join(dir, 'fifo'),
          '--cgroup',
          `${basename(dir)}/${id}`,
          ref,
          id,
          ...args,
        ],
        runSignal,
      );
    },
    stop: () => cleanUp(dir),
  };
}
