/**
 * Shared vocabulary of the per-ecosystem version comparators (`version-*.ts`).
 *
 * Every comparator has the same contract: `compare(a, b)` returns -1, 0 or 1
 * when both strings are versions of its scheme, and `undefined` when either
 * is not (the policy maps that to `VersionUnparseable`). Comparators never
 * throw on bad input and are pure.
 */

/** The result of comparing two versions: a < b, a = b, a > b. */
export type Ordering = -1 | 0 | 1;

/** A version comparator of one scheme; `undefined` means "not a version of this scheme". */
export type VersionComparator = (a: string, b: string) => Ordering | undefined;

/** Orders two numbers or bigints. */
export function compareNumbers(a: number | bigint, b: number | bigint): Ordering {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders two strings by UTF-16 code units (ASCII order for the inputs we see). */
export function compareStrings(a: string, b: string): Ordering {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two strings of ASCII digits by value without converting them, so
 * `20191109021931` and 40-digit date stamps neither overflow nor lose precision.
 */
export function compareDigits(a: string, b: string): Ordering {
  const x = a.replace(/^0+/, '');
  const y = b.replace(/^0+/, '');
  return x.length !== y.length ? compareNumbers(x.length, y.length) : compareStrings(x, y);
}
