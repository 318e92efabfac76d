/**
 * PEP 440 version ordering for `pypi` purls (the rules of `packaging.version`).
 *
 * Handles epochs (`1!1.0`), release segments with implicit trailing zeros
 * (`1.0 = 1.0.0`), pre-releases (`a`/`alpha`, `b`/`beta`, `rc`/`c`/`pre`/
 * `preview`), post-releases (`.post1`, `-1`, `rev`, `r`), dev releases, local
 * versions (`+ubuntu.1`), a leading `v`, case and the `-`/`_`/`.` separator
 * spellings. Order: `1.0.dev1 < 1.0a1.dev1 < 1.0a1 < 1.0b1 < 1.0rc1 < 1.0 <
 * 1.0+local < 1.0.post1.dev1 < 1.0.post1 < 1.1.dev1`.
 *
 * Not accepted: legacy (non-PEP 440) versions such as `2004d`, which pip no
 * longer installs either.
 */
import { compareDigits, compareNumbers, compareStrings, type Ordering } from './version-order.js';

// packaging's VERSION_PATTERN, anchored, case-insensitive.
const pattern = new RegExp(
  '^\\s*v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\\.[0-9]+)*)' +
    '(?<pre>[-_.]?(?<preL>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?<preN>[0-9]+)?)?' +
    '(?<post>(?:-(?<postN1>[0-9]+))|(?:[-_.]?(?<postL>post|rev|r)[-_.]?(?<postN2>[0-9]+)?))?' +
    '(?<dev>[-_.]?dev[-_.]?(?<devN>[0-9]+)?)?)' +
    '(?:\\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\\s*$',
  'i',
);

/** -Infinity / +Infinity of packaging's sort key, as ranks around real values. */
const below = -1;
const above = 1;

interface Key {
  epoch: string;
  release: string[];
  /** [rank, number]: rank -1 = dev-only (below any pre), 0..2 = a/b/rc, 3 = none. */
  pre: [number, string];
  /** undefined = no post-release (below any). */
  post: string | undefined;
  /** undefined = no dev-release (above any). */
  dev: string | undefined;
  local: string[] | undefined;
}

function preRank(letter: string): number {
  const l = letter.toLowerCase();
  return l === 'a' || l === 'alpha' ? 0 : l === 'b' || l === 'beta' ? 1 : 2;
}

function parse(text: string): Key | undefined {
  const g = pattern.exec(text)?.groups;
  if (g?.['release'] === undefined) return undefined;
  const release = g['release'].split('.');
  // Trailing zeros do not count: 1.0 == 1.0.0.
  while (release.length > 1 && /^0+$/.test(release[release.length - 1] ?? '')) release.pop();
  const hasPost = g['post'] !== undefined;
  const hasDev = g['dev'] !== undefined;
  let pre: [number, string];
  if (g['preL'] !== undefined) pre = [preRank(g['preL']), g['preN'] ?? '0'];
  else pre = !hasPost && hasDev ? [below, '0'] : [3, '0'];
  return {
    epoch: g['epoch'] ?? '0',
    release,
    pre,
    post: hasPost ? (g['postN1'] ?? g['postN2'] ?? '0') : undefined,
    dev: hasDev ? (g['devN'] ?? '0') : undefined,
    local: g['local']?.toLowerCase().split(/[-_.]/),
  };
}

function compareRelease(a: readonly string[], b: readonly string[]): Ordering {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const r = compareDigits(a[i] ?? '0', b[i] ?? '0');
    if (r !== 0) return r;
  }
  return 0;
}

/** An absent optional part sorts at `missing` relative to every present one. */
function compareOptional(a: string | undefined, b: string | undefined, missing: Ordering): Ordering {
  if (a === undefined) return b === undefined ? 0 : missing;
  if (b === undefined) return -missing as Ordering;
  return compareDigits(a, b);
}

/** Local segments: numbers sort above strings; a longer local wins a tie. */
function compareLocal(a: readonly string[] | undefined, b: readonly string[] | undefined): Ordering {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? '';
    const y = b[i] ?? '';
    const xNum = /^[0-9]+$/.test(x);
    const yNum = /^[0-9]+$/.test(y);
    const r = xNum && yNum ? compareDigits(x, y) : xNum !== yNum ? (xNum ? 1 : -1) : compareStrings(x, y);
    if (r !== 0) return r;
  }
  return compareNumbers(a.length, b.length);
}

/** Compares two PEP 440 versions; `undefined` when either is not one. */
export function compare(a: string, b: string): Ordering | undefined {
  const x = parse(a);
  const y = parse(b);
  if (x === undefined || y === undefined) return undefined;
  const steps: (() => Ordering)[] = [
    () => compareDigits(x.epoch, y.epoch),
    () => compareRelease(x.release, y.release),
    () => compareNumbers(x.pre[0], y.pre[0]),
    () => compareDigits(x.pre[1], y.pre[1]),
    () => compareOptional(x.post, y.post, below),
    () => compareOptional(x.dev, y.dev, above),
    () => compareLocal(x.local, y.local),
  ];
  for (const step of steps) {
    const r = step();
    if (r !== 0) return r;
  }
  return 0;
}
