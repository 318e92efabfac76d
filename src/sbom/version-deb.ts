/**
 * Debian version ordering for `deb` purls: dpkg's `verrevcmp`
 * (deb-version(7), dpkg lib/dpkg/version.c).
 *
 * `[epoch:]upstream[-revision]`: epochs compare as numbers; upstream and
 * revision compare by alternating non-digit runs (letters before other
 * characters, `~` before everything including the end of the string) and
 * digit runs (as numbers). So `1:0.9 > 2.0`, `1.0~rc1 < 1.0 < 1.0+b1 < 1.0a`,
 * `1.0-1 < 1.0-1ubuntu1`. A missing revision equals `0`.
 *
 * Rejects what dpkg rejects: an upstream not starting with a digit, a
 * non-numeric epoch, characters outside `[A-Za-z0-9.+~-]` (no `-` in the
 * revision, no `:` outside the epoch).
 */
import { compareDigits, compareNumbers, type Ordering } from './version-order.js';

interface DebVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

const versionPattern = /^(?:(?<epoch>[0-9]+):)?(?<rest>[0-9][A-Za-z0-9.+~-]*)$/;

function parse(text: string): DebVersion | undefined {
  const g = versionPattern.exec(text)?.groups;
  const rest = g?.['rest'];
  if (rest === undefined) return undefined;
  // The revision follows the last hyphen; the upstream may itself contain hyphens.
  const dash = rest.lastIndexOf('-');
  const upstream = dash < 0 ? rest : rest.slice(0, dash);
  const revision = dash < 0 ? '' : rest.slice(dash + 1);
  if (dash >= 0 && revision === '') return undefined;
  return { epoch: g?.['epoch'] ?? '0', upstream, revision };
}

const isDigit = (c: string): boolean => c >= '0' && c <= '9';

/** dpkg's `order()`: `~` < end/digit < letters < everything else. */
function order(c: string): number {
  if (c === '') return 0;
  if (isDigit(c)) return 0;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's `verrevcmp` on one upstream or revision string. */
export function compareDebianPart(a: string, b: string): Ordering {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charAt(i))) || (j < b.length && !isDigit(b.charAt(j)))) {
      const r = compareNumbers(order(a.charAt(i)), order(b.charAt(j)));
      if (r !== 0) return r;
      i++;
      j++;
    }
    const si = i;
    const sj = j;
    while (isDigit(a.charAt(i))) i++;
    while (isDigit(b.charAt(j))) j++;
    const r = compareDigits(a.slice(si, i) || '0', b.slice(sj, j) || '0');
    if (r !== 0) return r;
  }
  return 0;
}

/** Compares two Debian versions; `undefined` when either is not one. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return undefined;
  const r = compareDigits(x.epoch, y.epoch);
  if (r !== 0) return r;
  return compareDebianPart(x.upstream, y.upstream) || compareDebianPart(x.revision, y.revision);
}
