/** Runs a command of the test environment (cosign, crane, openssl) with a deadline and readable failures. */
import { execFile, type ExecFileException } from 'node:child_process';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOutcome extends ExecResult {
  readonly code: number;
}

interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  timeoutMs?: number;
}

function run(
  file: string,
  args: readonly string[],
  options: ExecOptions,
): Promise<ExecResult & { error: ExecFileException | null }> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        resolve({ error, stdout, stderr });
      },
    );
  });
}

const failure = (file: string, args: readonly string[], stderr: string, cause: Error): Error =>
  new Error(`${file} ${args.join(' ')} failed: ${stderr.trim().slice(-2000)}`, { cause });

export async function exec(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const { error, stdout, stderr } = await run(file, args, options);
  if (error) throw failure(file, args, stderr, error);
  return { stdout, stderr };
}

/**
 * Like {@link exec}, but an exit code is an outcome to compare, not a failure
 * (parity tests). A command that cannot start, is killed by its deadline or
 * by a signal still rejects.
 */
export async function execOutcome(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<ExecOutcome> {
  const { error, stdout, stderr } = await run(file, args, options);
  if (error === null) return { code: 0, stdout, stderr };
  if (typeof error.code !== 'number' || error.killed) throw failure(file, args, stderr, error);
  return { code: error.code, stdout, stderr };
}
