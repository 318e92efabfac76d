/**
 * Reading what the user hands a command — files, keys, trust roots — so that
 * every command reports an unreadable or invalid input the same way: a usage
 * error (exit 64) naming the flag, never an internal error.
 */
import { readFileSync } from 'node:fs';
import { CliError } from '../base/errors.js';
import { VerifyError } from '../verify/errors.js';
import { publicGoodTrustedRoot } from '../verify/public-good.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../verify/trust.js';

/** @throws CliError `UsageError` when the file cannot be read. */
export function readInputFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error: unknown) {
    throw new CliError('UsageError', `cannot read ${what} ${path}`, { cause: error });
  }
}

export function readInputText(path: string, what: string): string {
  return readInputFile(path, what).toString('utf8');
}

/**
 * Runs a loader of configuration (key, pattern, trust root); its VerifyError
 * or JSON SyntaxError is the user's input error.
 * @throws CliError `UsageError` whose message is `what` and whose cause is the error.
 */
export function loadInput<T>(what: string, load: () => T): T {
  try {
    return load();
  } catch (error: unknown) {
    if (!(error instanceof VerifyError || error instanceof SyntaxError)) throw error;
    // The detail travels as the cause; describeError prints the chain once.
    throw new CliError('UsageError', what, { cause: error });
  }
}

/** The trust root of `--trusted-root FILE`, or the embedded public-good one. */
export function trustedRootFrom(path: string | undefined): LoadedTrustRoot {
  if (path === undefined) return loadInput('embedded public-good trusted root', publicGoodTrustedRoot);
  const text = readInputText(path, 'trusted root');
  return loadInput('--trusted-root', () => loadTrustedRoot(JSON.parse(text)));
}

/** One line, whatever the message holds (stderr lines are parsed by scripts). */
export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ');

/** A commander option parser for a repeatable flag: each use adds a value. */
export const repeatable = (value: string, previous: string[]): string[] => [...previous, value];

const byteUnits: Readonly<Record<string, number>> = { '': 1, Ki: 1 << 10, Mi: 1 << 20, Gi: 1 << 30 };

/**
 * A byte size flag: a whole number of bytes, or with a Kubernetes-style unit (`16Mi`, `512Ki`, `1Gi`),
 * between 64 KiB and 4 GiB.
 * @throws CliError `UsageError`
 */
export function parseByteSize(flag: string, value: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(value.trim());
  const bytes = m === null ? NaN : Number(m[1]) * (byteUnits[m[2] ?? ''] ?? NaN);
  if (!Number.isSafeInteger(bytes) || bytes < 64 << 10 || bytes > 4 * 2 ** 30)
    throw new CliError('UsageError', `${flag} must be a size between 64Ki and 4Gi, e.g. 16Mi`);
  return bytes;
}
