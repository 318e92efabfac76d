/**
 * Starts and stops the real test environment (hack/testenv) for a test run.
 *
 * `hack/testenv up` prints `export NAME=value` lines (bash `%q`-quoted); they
 * are parsed here and applied to `process.env`, so helpers and the code under
 * test find KUBECONFIG, the registries and the cache's bin/ (cosign, crane,
 * kubectl) exactly as a developer's shell would after `eval "$(hack/testenv up)"`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const testenvScript = fileURLToPath(new URL('../../hack/testenv', import.meta.url));

/** The environment a test run talks to. */
export interface TestEnv {
  readonly dir: string;
  readonly kubeconfig: string;
  /** host:port of the registry that serves the OCI 1.1 referrers API (olareg). */
  readonly registry: string;
  /** host:port of the registry without the referrers API (tag fallback only). */
  readonly legacyRegistry: string;
  /** True when this process started the environment and must stop it. */
  readonly owned: boolean;
}

/** Parses the `export K=V` lines of `hack/testenv up`; values are bash `%q` output of plain paths. */
export function parseExports(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      // %q escapes shell metacharacters with a backslash; our values are paths
      // and host:port pairs, so undoing backslash escapes is enough.
      vars.set(m[1], m[2].replace(/\\(.)/g, '$1'));
    }
  }
  return vars;
}

export function required(vars: Map<string, string>, name: string): string {
  const v = vars.get(name);
  if (v === undefined || v === '') {
    throw new Error(`hack/testenv up printed no ${name}`);
  }
  return v;
}

/**
 * Brings the environment up in a fresh temporary directory (so parallel runs
 * never share one) and exports its variables into this process. When
 * SIGWATCH_TESTENV_DIR names a bare environment that is already up (a
 * developer ran `eval "$(hack/testenv up)"`), that one is re-checked and reused.
 */
export async function startTestEnv(): Promise<TestEnv> {
  const named = process.env['SIGWATCH_TESTENV_DIR'];
  if (named !== undefined && isBareAndUp(named)) return up(named, false);
  if (named !== undefined && existsSync(join(named, 'up'))) {
    process.stderr.write(`[testenv] ${named} is not a bare environment; starting a fresh one\n`);
  }
  try {
    return await up(await mkdtemp(join(tmpdir(), 'sigwatch-testenv-')), true);
  } catch (error: unknown) {
    // Free ports are probed, then bound by the components: another process
    // can win that race. Say what failed, then try once more on new ports.
    process.stderr.write(
      `[testenv] first start failed, retrying once: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return up(await mkdtemp(join(tmpdir(), 'sigwatch-testenv-')), true);
  }
}

/**
 * Whether `dir` holds an environment that is up with the bare profile. Only
 * such a one is reused (and then left up): a stale variable from an old shell
 * must not make this run adopt a directory, and a cluster a developer brought
 * up (`hack/testenv up --cluster`) must not become the bare tests'
 * environment (`up` without `--cluster` refuses it). `hack/testenv` writes
 * the profile file; environments from before it had none and are bare.
 */
function isBareAndUp(dir: string): boolean {
  if (!existsSync(join(dir, 'up'))) return false;
  const profile = join(dir, 'profile');
  return !existsSync(profile) || readFileSync(profile, 'utf8').trim() === 'bare';
}

/**
 * Runs `hack/testenv up` in `dir` and returns its exports (not applied to
 * this process); a failed start is stopped again when this process owns it.
 */
export async function testenvUp(
  dir: string,
  owned: boolean,
  profile: 'bare' | 'cluster' = 'bare',
): Promise<Map<string, string>> {
  const args = [testenvScript, 'up', '--dir', dir, ...(profile === 'cluster' ? ['--cluster'] : [])];
  const { stdout, stderr } = await run('bash', args, {
    timeout: 180_000,
    maxBuffer: 1 << 20,
  }).catch(async (error: unknown) => {
    // Stop whatever did start before reporting (the tail of the failing
    // component's log is in stderr); a reused environment is left as it is
    // so its owner can inspect it.
    if (owned) {
      await run('bash', [testenvScript, 'down', '--dir', dir], { timeout: 60_000 }).catch(() => undefined);
    }
    const detail = error instanceof Error && 'stderr' in error ? String(error.stderr) : '';
    throw new Error(`hack/testenv up failed (state in ${dir}):\n${detail}`, { cause: error });
  });
  process.stderr.write(stderr);
  return parseExports(stdout);
}

/** Runs `hack/testenv down` in `dir`. */
export async function testenvDown(dir: string): Promise<void> {
  // The cluster profile stops pods, the node and its network first: ~20 s.
  const { stderr } = await run('bash', [testenvScript, 'down', '--dir', dir], { timeout: 120_000 });
  process.stderr.write(stderr);
}

async function up(dir: string, owned: boolean): Promise<TestEnv> {
  const started = Date.now();
  const vars = await testenvUp(dir, owned);
  for (const [k, v] of vars) {
    process.env[k] = v;
  }
  process.stderr.write(`[testenv] ready in ${String(Date.now() - started)} ms\n`);
  return {
    dir,
    kubeconfig: required(vars, 'KUBECONFIG'),
    registry: required(vars, 'SIGWATCH_TEST_REGISTRY'),
    legacyRegistry: required(vars, 'SIGWATCH_TEST_LEGACY_REGISTRY'),
    owned,
  };
}

/** Stops an environment this process started; a reused one is left running. */
export async function stopTestEnv(env: TestEnv): Promise<void> {
  if (!env.owned) {
    return;
  }
  await testenvDown(env.dir);
}

let current: TestEnv | undefined;

/** The environment of this run; throws when called outside the integration suite. */
export function testEnv(): TestEnv {
  if (current === undefined) {
    throw new Error('the test environment is not up: integration tests run with .mocharc.integration.json');
  }
  return current;
}

/** The environment of this run, if one is up (for teardown paths). */
export function currentTestEnv(): TestEnv | undefined {
  return current;
}

export function setTestEnv(env: TestEnv | undefined): void {
  current = env;
}

/** The outcome of one `hack/testenv` command (never throws: tests check the exit code). */
export interface TestenvRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `hack/testenv ARGS…` as a developer would, for tests of the script's own contract. */
export function runTestenv(...args: string[]): Promise<TestenvRun> {
  return new Promise((resolve) => {
    // The cluster profile's `up` and `down` take ~10-20 s; its selftest runs both.
    execFile('bash', [testenvScript, ...args], { timeout: 180_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}
