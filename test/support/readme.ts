/**
 * Shell blocks of README.md that tests run exactly as written: a block is the
 * fenced `sh` code between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { exec } from './exec.js';

const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The text of the README's block `name`; throws when the README has none. */
export function readmeBlock(name: string): string {
  const readme = readFileSync(readmePath, 'utf8');
  const begin = `<!-- ${name}:begin -->\n\`\`\`sh\n`;
  const start = readme.indexOf(begin);
  const end = readme.indexOf(`\`\`\`\n<!-- ${name}:end -->`, start);
  if (start < 0 || end < 0) throw new Error(`README has no ${name} block`);
  return readme.slice(start + begin.length, end);
}

/** Runs the README's block `name` with bash (errexit, pipefail) in `cwd` with `env` added; returns stdout. */
export async function runReadmeBlock(
  name: string,
  options: { env: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<string> {
  const script = `set -euo pipefail\n${readmeBlock(name)}`;
  return (
    await exec('bash', ['-c', script], {
      env: options.env,
      cwd: options.cwd,
      timeoutMs: options.timeoutMs ?? 300_000,
    })
  ).stdout;
}
