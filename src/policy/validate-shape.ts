/**
 * Shape readers shared by the ImagePolicy validator: each reads one field of
 * untrusted, already-parsed JSON/YAML, records every problem under the
 * field's path, and returns the typed value or undefined. They never throw,
 * so one bad field never hides the next one.
 */
import { parseDuration } from './duration.js';
import { policyLimits, type LimitKey } from './spec.js';
import { isJsonObject as isPlainObject } from '../base/json.js';

/** Closed set of validation problem codes; tests and tools branch on these, not on messages. */
export type PolicyProblemCode =
  | 'UnknownField'
  | 'Required'
  | 'WrongType'
  | 'InvalidEnum'
  | 'OutOfRange'
  | 'TooLong'
  | 'TooMany'
  | 'Duplicate'
  | 'InvalidPattern'
  | 'InvalidPublicKey'
  | 'AuthorityKind'
  | 'InvalidCombination'
  | 'UnknownPredicateType'
  | 'InvalidDuration'
  | 'InvalidPurl'
  | 'InvalidRange'
  | 'InvalidTimestamp'
  | 'InvalidGlob'
  /** A glob whose registry is not spelled canonically (`GHCR.IO/**`, `ghcr.io:443/**`); the message names the canonical spelling. */
  | 'NonCanonicalGlob'
  | 'InvalidLabel'
  | 'ReservedLabelKey'
  /** Found when compiling, not validating: a `secretRef` or `trustedRootRef` that names nothing loaded. */
  | 'ReferenceNotFound';

/** Codes of findings that leave the policy usable but deserve the admin's attention. */
export type PolicyWarningCode = 'UnanchoredPattern';

export interface PolicyProblem {
  /** Field path from the resource root, e.g. `spec.authorities[1].keyless.subjectRegExp`. */
  readonly path: string;
  readonly code: PolicyProblemCode;
  readonly message: string;
}

export interface PolicyWarning {
  readonly path: string;
  readonly code: PolicyWarningCode;
  readonly message: string;
}

/** Accumulates findings while one spec is read. */
export class Findings {
  readonly problems: PolicyProblem[] = [];
  readonly warnings: PolicyWarning[] = [];

  problem(path: string, code: PolicyProblemCode, message: string): void {
    this.problems.push({ path, code, message });
  }

  warn(path: string, code: PolicyWarningCode, message: string): void {
    this.warnings.push({ path, code, message });
  }
}

/**
 * The path of a member: `path.key` for identifier-like keys, else
 * `path["key"]`, so a label key such as `sigwatch.dev/x` stays one segment.
 */
export function memberPath(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

/**
 * Reads an object, reporting every key outside `fields` as `UnknownField`:
 * a misspelt field must fail loudly, never be ignored into a wider policy.
 */
export function readObject<K extends string>(
  f: Findings,
  path: string,
  value: unknown,
  fields: readonly K[],
): Partial<Record<K, unknown>> | undefined {
  if (!isPlainObject(value)) {
    f.problem(path, 'WrongType', `expected an object, got ${typeName(value)}`);
    return undefined;
  }
  const known: readonly string[] = fields;
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      f.problem(memberPath(path, key), 'UnknownField', `unknown field ${JSON.stringify(key)}`);
  }
  return value as Partial<Record<K, unknown>>;
}

/** Reads a map of string values (labels); keys and values are checked by the caller. Undefined if any value is not a string. */
export function readStringMap(
  f: Findings,
  path: string,
  value: unknown,
  limit: LimitKey,
): [string, string][] | undefined {
  if (!isPlainObject(value)) {
    f.problem(path, 'WrongType', `expected a map of strings, got ${typeName(value)}`);
    return undefined;
  }
  const entries = Object.entries(value);
  if (!checkCount(f, path, entries.length, limit)) return undefined;
  const result: [string, string][] = [];
  for (const [key, item] of entries) {
    if (typeof item === 'string') result.push([key, item]);
    else f.problem(memberPath(path, key), 'WrongType', `expected a string, got ${typeName(item)}`);
  }
  // All or nothing: a selector missing one of its labels would select more.
  return result.length === entries.length ? result : undefined;
}

function checkCount(f: Findings, path: string, count: number, limit: LimitKey): boolean {
  const { maxItems } = policyLimits[limit] as { maxItems?: number };
  if (maxItems !== undefined && count > maxItems) {
    f.problem(path, 'TooMany', `${String(count)} items, at most ${String(maxItems)} allowed`);
    return false;
  }
  return true;
}

/** Code points, as OpenAPI `maxLength` counts; short strings skip the count. */
function exceedsLength(text: string, maxLength: number): boolean {
  if (text.length <= maxLength) return false;
  const surrogatePairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0;
  return text.length - surrogatePairs > maxLength;
}

/** Whether a string fits the limit; reports `TooLong` when not. */
export function checkLength(f: Findings, path: string, text: string, limit: LimitKey): boolean {
  const { maxLength } = policyLimits[limit] as { maxLength?: number };
  if (maxLength !== undefined && exceedsLength(text, maxLength)) {
    f.problem(path, 'TooLong', `longer than ${String(maxLength)} characters`);
    return false;
  }
  return true;
}

/**
 * Reads a string. Absent is `Required` when `required`; an empty string is
 * treated as absent for required fields (an empty issuer pins nothing).
 */
export function readString(
  f: Findings,
  path: string,
  value: unknown,
  limit: LimitKey,
  required: boolean,
): string | undefined {
  if (value === undefined) {
    if (required) f.problem(path, 'Required', 'required');
    return undefined;
  }
  if (typeof value !== 'string') {
    f.problem(path, 'WrongType', `expected a string, got ${typeName(value)}`);
    return undefined;
  }
  if (required && value.trim() === '') {
    f.problem(path, 'Required', 'must not be empty');
    return undefined;
  }
  return checkLength(f, path, value, limit) ? value : undefined;
}

export function readBoolean(
  f: Findings,
  path: string,
  value: unknown,
  fallback: boolean,
): boolean | undefined {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  f.problem(path, 'WrongType', `expected a boolean, got ${typeName(value)}`);
  return undefined;
}

/** Reads an integer in `[min, max]`; absent gives `fallback`. */
export function readInteger(
  f: Findings,
  path: string,
  value: unknown,
  fallback: number,
  range: { readonly min: number; readonly max: number },
): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    f.problem(path, 'WrongType', `expected an integer, got ${typeName(value)}`);
    return undefined;
  }
  if (value < range.min || value > range.max) {
    f.problem(path, 'OutOfRange', `must be between ${String(range.min)} and ${String(range.max)}`);
    return undefined;
  }
  return value;
}

/** Reads one of `allowed`; absent gives `fallback` (undefined fallback = required). */
export function readEnum<T extends string>(
  f: Findings,
  path: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T | undefined,
): T | undefined {
  if (value === undefined) {
    if (fallback === undefined) f.problem(path, 'Required', 'required');
    return fallback;
  }
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) f.problem(path, 'InvalidEnum', `must be one of ${allowed.join(', ')}`);
  return found;
}

/**
 * Reads a list; `each` reads one item under `path[i]` and returns undefined
 * when it was bad. Over the limit only `TooMany` is reported: items beyond it
 * are not read, which bounds the work on hostile input. Returns undefined if
 * anything was wrong, so a half-read list never reaches a usable spec.
 */
export function readList<T>(
  f: Findings,
  path: string,
  value: unknown,
  limit: LimitKey,
  each: (item: unknown, itemPath: string) => T | undefined,
): T[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    f.problem(path, 'WrongType', `expected a list, got ${typeName(value)}`);
    return undefined;
  }
  const items: readonly unknown[] = value;
  if (!checkCount(f, path, items.length, limit)) return undefined;
  const result: T[] = [];
  let allGood = true;
  for (const [index, item] of items.entries()) {
    const read = each(item, `${path}[${String(index)}]`);
    if (read === undefined) allGood = false;
    else result.push(read);
  }
  return allGood ? result : undefined;
}

/** Reports `Duplicate` at every repeat of a name, at `path[i].field` (`path[i]` when field is ''). */
export function checkUnique(
  f: Findings,
  path: string,
  names: readonly (string | undefined)[],
  field: string,
): void {
  const seen = new Set<string>();
  names.forEach((name, index) => {
    if (name === undefined) return;
    if (seen.has(name)) {
      const at = `${path}[${String(index)}]`;
      f.problem(field === '' ? at : `${at}.${field}`, 'Duplicate', `duplicate ${JSON.stringify(name)}`);
    }
    seen.add(name);
  });
}

/**
 * Reads a Go duration string (duration.ts) of at least `minMs`; absent gives
 * `fallback` (undefined fallback: optional, stays absent).
 */
export function readDuration(
  f: Findings,
  path: string,
  value: unknown,
  fallback: string | undefined,
  minMs: number,
): { readonly text: string | undefined; readonly ok: boolean } {
  if (value === undefined) return { text: fallback, ok: true };
  const text = readString(f, path, value, 'duration', true);
  if (text === undefined) return { text: undefined, ok: false };
  const ms = parseDuration(text);
  if (ms === undefined) {
    f.problem(path, 'InvalidDuration', 'expected a duration such as "10m", "1h30m" or "720h"');
    return { text: undefined, ok: false };
  }
  if (ms < minMs) {
    f.problem(path, 'OutOfRange', `must be at least ${String(minMs / 1000)}s`);
    return { text: undefined, ok: false };
  }
  return { text, ok: true };
}
