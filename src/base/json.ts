/**
 * Readers for JSON that arrived from outside (API objects, registry
 * documents, review requests): each answers `undefined` for anything but the
 * shape asked for, so a hostile or malformed value is skipped by the caller
 * instead of being trusted by a cast.
 */

export type JsonObject = Readonly<Record<string, unknown>>;

/** `v` if it is a JSON object (not null, not an array). */
export const asObject = (v: unknown): JsonObject | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;

/** `v` if it is a non-empty string: Kubernetes omits empty fields, so "" means absent. */
export const asString = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;

/** `v` if it is an array, else an empty one. */
export const asArray = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);

/** True for a JSON object (not null, not an array). */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
