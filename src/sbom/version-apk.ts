/**
 * Alpine package version ordering for `apk` purls (apk-tools `version.c`).
 *
 * `digits(.digits)*[letter](_suffix[N])*[~hash][-rN]`, compared part by part:
 * - numeric components as numbers; more components is newer (`1.0 < 1.0.1`);
 * - an optional single letter: having one is newer (`1.0 < 1.0a < 1.0b`);
 * - suffixes ranked alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p,
 *   a missing suffix number below any number (`_rc < _rc0`);
 * - the `-rN` package revision last, a missing one below `-r0`.
 * So `1.0_rc1 < 1.0 < 1.0-r1 < 1.0_p1`: the revision only breaks ties of the
 * upstream version, so `1.0_p1` (a newer upstream) beats `1.0-r1`.
 *
 * Simplified versus apk-tools: components with leading zeros compare as
 * numbers (apk compares non-first ones as strings), and the `~hash` is ignored.
 */
import { compareDigits, compareNumbers, compareStrings, type Ordering } from './version-order.js';

const suffixes = ['alpha', 'beta', 'pre', 'rc', '', 'cvs', 'svn', 'git', 'hg', 'p'];
const noSuffix = suffixes.indexOf('');

const pattern =
  /^(?<numbers>[0-9]+(?:\.[0-9]+)*)(?<letter>[a-z])?(?<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*)(?:~[0-9a-f]+)?(?:-r(?<revision>[0-9]+))?$/;

interface Suffix {
  rank: number;
  /** undefined: no number, below `0`. */
  number: string | undefined;
}

interface ApkVersion {
  numbers: string[];
  letter: string | undefined;
  suffixes: Suffix[];
  revision: string | undefined;
}

function parse(text: string): ApkVersion | undefined {
  const g = pattern.exec(text)?.groups;
  if (g?.['numbers'] === undefined) return undefined;
  const list = [...(g['suffixes'] ?? '').matchAll(/_([a-z]+)([0-9]*)/g)].map((m) => ({
    rank: suffixes.indexOf(m[1] ?? ''),
    number: m[2] === '' ? undefined : m[2],
  }));
  return { numbers: g['numbers'].split('.'), letter: g['letter'], suffixes: list, revision: g['revision'] };
}

function compareOptionalDigits(a: string | undefined, b: string | undefined): Ordering {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return compareDigits(a, b);
}

function compareSuffixes(a: readonly Suffix[], b: readonly Suffix[]): Ordering {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    // A missing suffix ranks as "none": below post suffixes, above pre-releases.
    const r = compareNumbers(x?.rank ?? noSuffix, y?.rank ?? noSuffix);
    if (r !== 0) return r;
    if (x === undefined || y === undefined) continue;
    const n = compareOptionalDigits(x.number, y.number);
    if (n !== 0) return n;
  }
  return 0;
}

/** Compares two apk versions; `undefined` when either is not one. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return undefined;
  for (let i = 0; i < Math.min(x.numbers.length, y.numbers.length); i++) {
    const r = compareDigits(x.numbers[i] ?? '0', y.numbers[i] ?? '0');
    if (r !== 0) return r;
  }
  const length = compareNumbers(x.numbers.length, y.numbers.length);
  if (length !== 0) return length;
  const letter =
    x.letter === undefined || y.letter === undefined
      ? compareNumbers(x.letter === undefined ? 0 : 1, y.letter === undefined ? 0 : 1)
      : compareStrings(x.letter, y.letter);
  if (letter !== 0) return letter;
  return compareSuffixes(x.suffixes, y.suffixes) || compareOptionalDigits(x.revision, y.revision);
}
