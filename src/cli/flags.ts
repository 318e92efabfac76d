/**
 * Helpers for commander flag definitions and messages. Every command
 * definition imports this file, so it stays free of engine imports: `--help`
 * and commands that never touch the engine load nothing more.
 */
import { CliError } from '../base/errors.js';

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
