/**
 * Reading what the user hands a command — files, keys, trust roots — so that
 * every command reports an unreadable or invalid input the same way: a usage
 * error (exit 64) naming the flag, never an internal error.
 */
import { readFileSync } from 'node:fs';
import { CliError } from '../base/errors.js';
import { VerifyError } from '../verify/errors.js';

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
