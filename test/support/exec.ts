/** Runs a command of the test environment (cosign, crane, openssl) with a deadline and readable failures. */
import { execFile } from 'node:child_process';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
}

export async function exec(
  file: string,
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
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
        if (error) {
          reject(
            new Error(`${file} ${args.join(' ')} failed: ${stderr.trim().slice(-2000)}`, { cause: error }),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}
