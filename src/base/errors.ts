/**
 * The root of Sigwatch's error hierarchy.
 *
 * Every error Sigwatch throws carries a stable `code` from a closed union owned
 * by its layer (registry, verify, sbom, policy, settings, cli). Callers branch on
 * `code`, never on message text; tests assert `code`. The original failure is
 * kept as the standard `cause`, never concatenated into the message.
 *
 * `instanceof` is brand-checked (`Symbol.for`) so it survives two copies of
 * this module in one process (a linked checkout next to an installed package;
 * a test runner that loads a file once as CommonJS and again, through the
 * CLI's lazy `import()`, as ESM): the brand lists the class names from the
 * thrown class up to SigwatchError, so `instanceof CliError` holds for a
 * CliError of either copy and is still not true of every Sigwatch error.
 */
import { inspect } from 'node:util';

const brand = Symbol.for('sigwatch.error');

export class SigwatchError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const classes: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error; c = Object.getPrototypeOf(c))
      classes.push(c.name);
    this[brand] = classes;
  }

  /** Names of the classes this error is an instance of, from its own up to SigwatchError. */
  readonly [brand]: readonly string[];

  static override [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !(brand in value)) return false;
    if (this === SigwatchError) return true;
    const classes: unknown = value[brand];
    return typeof this === 'function' && Array.isArray(classes) && classes.includes(this.name);
  }
}

/**
 * Narrows to `SigwatchError<string>`; a bare `instanceof` on the generic class
 * narrows to `SigwatchError<any>` and lets an untyped code escape.
 */
export function isSigwatchError(value: unknown): value is SigwatchError {
  return value instanceof SigwatchError;
}

/** Codes of errors raised by the command line itself (flags, arguments). */
export type CliErrorCode = 'UsageError';

export class CliError extends SigwatchError<CliErrorCode> {}

/** Returns a message for any thrown value, including the `cause` chain, for logs and CLI output. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  // Bounded: a cause cycle must not hang the error path.
  for (let depth = 0; depth < 8 && current !== undefined; depth++) {
    if (isSigwatchError(current)) {
      parts.push(`${current.code}: ${current.message}`);
    } else if (current instanceof Error) {
      parts.push(current.message);
    } else {
      parts.push(typeof current === 'string' ? current : inspect(current, { depth: 2 }));
      break;
    }
    current = current.cause;
  }
  return parts.join(': caused by: ');
}
