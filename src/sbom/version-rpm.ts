/**
 * RPM version ordering for `rpm` purls: librpm's `rpmvercmp` (rpm ≥ 4.15,
 * with `^`) applied to `[epoch:]version[-release]`.
 *
 * Versions are compared segment by segment; separators (anything not
 * alphanumeric, `~` or `^`) only split segments. A numeric segment beats an
 * alphabetic one; `~` sorts before everything (pre-release), `^` after the end
 * of the string but before anything else (post-release snapshot). So
 * `1.0~rc1 < 1.0 < 1.0^git1 < 1.0.1` and `1:0.1 > 9.9`.
 *
 * A missing epoch is 0. A missing release sorts below any release, giving a
 * total order (rpm's dependency matcher instead treats it as a wildcard; the
 * range layer does not need that). Rejected: empty parts, non-numeric epochs,
 * characters outside `[A-Za-z0-9._+~^]`.
 */
import { compareDigits, compareStrings, type Ordering } from './version-order.js';

const evrPattern = /^(?:(?<epoch>[0-9]+):)?(?<version>[A-Za-z0-9._+~^]+)(?:-(?<release>[A-Za-z0-9._+~^]+))?$/;

const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isAlpha = (c: string): boolean => /^[A-Za-z]$/.test(c);

/** librpm's `rpmvercmp` on one version or release string. */
export function rpmvercmp(a: string, b: string): Ordering {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a.charAt(i)) && a.charAt(i) !== '~' && a.charAt(i) !== '^') i++;
    while (j < b.length && !isAlnum(b.charAt(j)) && b.charAt(j) !== '~' && b.charAt(j) !== '^') j++;
    const ca = a.charAt(i);
    const cb = b.charAt(j);
    if (ca === '~' || cb === '~') {
      if (ca !== '~') return 1;
      if (cb !== '~') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '^' || cb === '^') {
      if (ca === '') return -1;
      if (cb === '') return 1;
      if (ca !== '^') return 1;
      if (cb !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (ca === '' || cb === '') break;
    const numeric = isDigit(ca);
    const same = numeric ? isDigit : isAlpha;
    const si = i;
    const sj = j;
    while (i < a.length && same(a.charAt(i))) i++;
    while (j < b.length && same(b.charAt(j))) j++;
    // Segments of different kinds: the numeric one is newer.
    if (j === sj) return numeric ? 1 : -1;
    const r = numeric
      ? compareDigits(a.slice(si, i), b.slice(sj, j))
      : compareStrings(a.slice(si, i), b.slice(sj, j));
    if (r !== 0) return r;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** Compares two RPM EVR strings; `undefined` when either is not one. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = evrPattern.exec(a)?.groups;
  const y = evrPattern.exec(b)?.groups;
  if (x?.['version'] === undefined || y?.['version'] === undefined) return undefined;
  const epoch = compareDigits(x['epoch'] ?? '0', y['epoch'] ?? '0');
  if (epoch !== 0) return epoch;
  const version = rpmvercmp(x['version'], y['version']);
  if (version !== 0) return version;
  const rx = x['release'];
  const ry = y['release'];
  if (rx === undefined || ry === undefined) return rx === ry ? 0 : rx === undefined ? -1 : 1;
  return rpmvercmp(rx, ry);
}
