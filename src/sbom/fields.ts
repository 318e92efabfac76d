/**
 * Small shape checks shared by the SPDX and CycloneDX readers. Every failure
 * is an `SbomInvalid` naming the JSON path, so an operator can find the field.
 */
import { SbomError } from './errors.js';
import { sbomWarningDescriptions, type SbomComponent, type SbomWarningCode } from './model.js';
import { isJsonObject, type JsonObject } from '../base/json.js';

export type { JsonObject };
/** True for a JSON object; arrays and null are not objects here. */
export const isObject = isJsonObject;

/** Throws `SbomInvalid` for `path`. */
export function invalid(path: string, problem: string): never {
  throw new SbomError('SbomInvalid', path, problem);
}

/** `value` as an object; `SbomInvalid` at `path` otherwise (including absent). */
export function objectAt(value: unknown, path: string): JsonObject {
  return isObject(value) ? value : invalid(path, 'must be an object');
}

/** `value` as a string; `SbomInvalid` at `path` otherwise (including absent). */
export function stringAt(value: unknown, path: string): string {
  return typeof value === 'string' ? value : invalid(path, 'must be a string');
}

/** `value` as a string, or undefined when absent; `SbomInvalid` at `path` for any other type. */
export function optionalStringAt(value: unknown, path: string): string | undefined {
  return value === undefined ? undefined : stringAt(value, path);
}

/** An optional array; absent reads as empty, any other non-array is `SbomInvalid` at `path`. */
export function arrayAt(value: unknown, path: string): readonly unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? (value as readonly unknown[]) : invalid(path, 'must be an array');
}

// RFC 3339 date-time (JSON Schema `format: date-time`): a date alone or a time
// without an offset is not an instant, and `new Date()` would guess a zone.
const dateTimePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** Parses an RFC 3339 date-time; `SbomInvalid` otherwise. */
export function dateTimeAt(value: unknown, path: string): Date {
  const text = stringAt(value, path);
  const date = dateTimePattern.test(text) ? new Date(text) : undefined;
  return date !== undefined && !Number.isNaN(date.getTime())
    ? date
    : invalid(path, 'must be an RFC 3339 date-time');
}

/**
 * Collects tolerated deviations. A 900-package SBOM with the same deviation
 * in every package yields one warning (first path and a count), not 900.
 */
export class WarningLog {
  private readonly seen = new Map<SbomWarningCode, { first: string; count: number }>();

  note(code: SbomWarningCode, path: string): void {
    const entry = this.seen.get(code);
    if (entry === undefined) this.seen.set(code, { first: path, count: 1 });
    else entry.count++;
  }

  /** One string per code, `<Code>: <first path>[ (+N more)]: <description>`. */
  list(): string[] {
    return [...this.seen].map(([code, { first, count }]) => {
      const more = count > 1 ? ` (+${String(count - 1)} more)` : '';
      return `${code}: ${first}${more}: ${sbomWarningDescriptions[code]}`;
    });
  }
}

/** Adds `value` to `into` unless it is empty or already there (license lists stay short). */
export function pushUnique(into: string[], value: string): void {
  if (value !== '' && !into.includes(value)) into.push(value);
}

/**
 * A format reader's result: the header is checked eagerly, components lazily,
 * so the async driver can yield between chunks of a large document. Iterating
 * `components()` may throw `SbomInvalid` part-way.
 */
export interface DocumentReader {
  readonly format: 'SPDX' | 'CycloneDX';
  readonly specVersion: string;
  readonly created?: Date;
  readonly subject?: string;
  readonly warnings: WarningLog;
  components(): Generator<SbomComponent>;
}
