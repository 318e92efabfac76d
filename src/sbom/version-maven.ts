/**
 * Maven version ordering, a port of the classic (3.x) algorithm of
 * `org.apache.maven.artifact.versioning.ComparableVersion`.
 *
 * A version is split into a tree: `.` separates items of one list, `-` and a
 * switch between digits and letters open a nested list. Numbers compare as
 * numbers; known qualifiers compare by rank
 *   alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp
 * and any other qualifier sorts after `sp`, alphabetically. `a1`, `b1`, `m1`
 * abbreviate alpha/beta/milestone when a digit follows. Trailing null items
 * (`0`, `""`, `ga`) are dropped, so `1.0` = `1` = `1-ga`.
 *
 * So `2.0-beta9 < 2.0-rc1 < 2.0 < 2.0-sp1 < 2.0.1`.
 *
 * Not reproduced: the 3.9 "combination item" refinement (`1.0.0.X1`), which
 * only reorders mixed letter-digit tokens after a dot. Every non-empty string
 * without whitespace is a Maven version (Maven never rejects one).
 */
import { compareNumbers, compareStrings, type Ordering } from './version-order.js';

type Item = { kind: 'int'; value: bigint } | { kind: 'str'; value: string } | { kind: 'list'; items: Item[] };

const qualifiers = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const aliases: Readonly<Record<string, string>> = { ga: '', final: '', release: '', cr: 'rc' };
const releaseRank = String(qualifiers.indexOf(''));

/** Maven compares qualifier ranks as strings: "0".."6" for known ones, "7-<name>" for the rest. */
function rank(q: string): string {
  const i = qualifiers.indexOf(q);
  return i >= 0 ? String(i) : `${String(qualifiers.length)}-${q}`;
}

function stringItem(text: string, followedByDigit: boolean): Item {
  let value = text;
  if (followedByDigit && value.length === 1) {
    value = value === 'a' ? 'alpha' : value === 'b' ? 'beta' : value === 'm' ? 'milestone' : value;
  }
  return { kind: 'str', value: aliases[value] ?? value };
}

function parseItem(isDigit: boolean, text: string): Item {
  return isDigit ? { kind: 'int', value: BigInt(text) } : stringItem(text, false);
}

function isNull(item: Item): boolean {
  switch (item.kind) {
    case 'int':
      return item.value === 0n;
    case 'str':
      return rank(item.value) === releaseRank;
    case 'list':
      return item.items.length === 0;
  }
}

/** Drops trailing null items; stops at the first non-null non-list item, as Maven does. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const item = list[i];
    if (item === undefined) break;
    if (isNull(item)) list.splice(i, 1);
    else if (item.kind !== 'list') break;
  }
}

function parse(version: string): Item {
  const text = version.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const open = (): void => {
    const next: Item[] = [];
    list.push({ kind: 'list', items: next });
    list = next;
    stack.push(next);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '.' || c === '-') {
      list.push(i === start ? { kind: 'int', value: 0n } : parseItem(isDigit, text.slice(start, i)));
      start = i + 1;
      if (c === '-') open();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        open();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, text.slice(start, i)));
        start = i;
        open();
      }
      isDigit = false;
    }
  }
  if (text.length > start) list.push(parseItem(isDigit, text.slice(start)));
  for (let i = stack.length - 1; i >= 0; i--) normalize(stack[i] ?? []);
  return { kind: 'list', items: root };
}

/** Compares an item with a missing one (the shorter list's padding). */
function compareWithNull(item: Item): Ordering {
  switch (item.kind) {
    case 'int':
      return item.value === 0n ? 0 : 1;
    case 'str':
      return compareStrings(rank(item.value), releaseRank);
    case 'list': {
      const first = item.items[0];
      return first === undefined ? 0 : compareWithNull(first);
    }
  }
}

function compareItems(a: Item | undefined, b: Item | undefined): Ordering {
  if (a === undefined) return b === undefined ? 0 : (-compareWithNull(b) as Ordering);
  if (b === undefined) return compareWithNull(a);
  if (a.kind === 'int') return b.kind === 'int' ? compareNumbers(a.value, b.value) : 1;
  if (a.kind === 'str') {
    if (b.kind === 'int') return -1;
    if (b.kind === 'list') return -1;
    return compareStrings(rank(a.value), rank(b.value));
  }
  if (b.kind === 'int') return -1;
  if (b.kind === 'str') return 1;
  const n = Math.max(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const r = compareItems(a.items[i], b.items[i]);
    if (r !== 0) return r;
  }
  return 0;
}

function isVersion(text: string): boolean {
  return text.length > 0 && !/\s/.test(text);
}

/** Compares two Maven versions; `undefined` only for an empty string or one with whitespace. */
export function compare(a: string, b: string): Ordering | undefined {
  if (!isVersion(a) || !isVersion(b)) return undefined;
  return compareItems(parse(a), parse(b));
}
