/**
 * Sigwatch's own operator image, built from this checkout by
 * hack/build-image.sh (no container daemon, no base-image pull) and pushed to
 * a test registry, for tests that need the real image: its own test, and
 * anything that runs the operator as a container.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../hack/build-image.sh', import.meta.url));

export interface OperatorImage {
  /** `registry/repo@sha256:…`: what to pull, run and sign. */
  readonly ref: string;
  readonly digest: string;
  /** The CycloneDX SBOM of the image's node_modules. */
  readonly sbomPath: string;
  readonly buildMs: number;
  /** The script's step lines (`[build-image] step  time  (total)`). */
  readonly steps: readonly string[];
}

export async function buildOperatorImage(options: {
  readonly registry: string;
  readonly repo: string;
  readonly tag: string;
  readonly workdir: string;
  readonly signal: AbortSignal;
}): Promise<OperatorImage> {
  const started = Date.now();
  const args = [script, '--registry', options.registry, '--repo', options.repo, '--tag', options.tag];
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      'bash',
      [...args, '--workdir', options.workdir],
      { signal: options.signal, maxBuffer: 32 << 20 },
      (error, out, err) => {
        if (error !== null) {
          reject(new Error(`hack/build-image.sh failed:\n${err.slice(-4000)}`, { cause: error }));
          return;
        }
        resolve({ stdout: out, stderr: err });
      },
    );
  });
  // The script's contract: exactly two lines, the digest reference and the SBOM path.
  const [ref = '', sbomPath = '', ...rest] = stdout.split('\n');
  const digest = /^[^@]+@(sha256:[0-9a-f]{64})$/.exec(ref)?.[1];
  if (
    digest === undefined ||
    !ref.startsWith(`${options.registry}/${options.repo}@`) ||
    !isAbsolute(sbomPath) ||
    !existsSync(sbomPath) ||
    rest.some((l) => l !== '')
  ) {
    throw new Error(`hack/build-image.sh printed an unexpected result:\n${stdout}`);
  }
  return {
    ref,
    digest,
    sbomPath,
    buildMs: Date.now() - started,
    steps: stderr.split('\n').filter((l) => /^\[build-image\] .*\ds {2}\(total/.test(l)),
  };
}
