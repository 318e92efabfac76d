/**
 * Image globs of `match.images` and `exceptions[].images` (design §2): `*`
 * matches within one path segment (never `/`), `**` matches across segments
 * (any characters, `/` included, possibly none). Every other character is
 * literal. As in policy-controller, a glob is compiled once to an anchored
 * pattern; here the engine is RE2 (re2js), so matching is linear in the input
 * whatever glob an admin writes.
 *
 * What a glob is matched against: the normalised image *name*
 * `registry/repository` (formats.md §3: `nginx` → `docker.io/library/nginx`),
 * with any `:tag` and `@digest` removed. Policies judge digests, and a tag is
 * mutable, so a glob can never select or exempt an image by its tag; a glob
 * that contains `@`, or `:` anywhere but in the registry's port, is invalid.
 */
import { RE2JS } from 're2js';

/** Lower-case repository characters, `:` for a registry port, and the wildcards. */
const globCharacters = /^[a-z0-9._\-/:*]+$/;

/**
 * Why a glob cannot be compiled, or undefined when it can. Reasons are short
 * and stable enough for a validation message; callers assert on their own
 * problem codes, not on this text.
 */
export function globProblem(glob: string): string | undefined {
  if (glob === '') return 'empty glob';
  if (!globCharacters.test(glob)) return 'only a-z, 0-9, ".", "_", "-", "/", ":" and "*" are allowed';
  if (glob.includes('***')) return '"***" is ambiguous';
  const slash = glob.indexOf('/');
  if (slash === -1) return 'a glob names a registry and a repository ("registry/repo…")';
  if (glob.slice(slash).includes(':')) return 'tags are not matched: remove ":tag"';
  return undefined;
}

/** A compiled glob; `source` is kept for messages and status. */
export interface ImageGlob {
  readonly source: string;
  readonly pattern: RE2JS;
}

/**
 * Compiles a glob. Returns undefined when `globProblem` reports one, so
 * callers validate first and never compile an invalid glob by accident.
 */
export function compileGlob(glob: string): ImageGlob | undefined {
  if (globProblem(glob) !== undefined) return undefined;
  const parts = glob.split(/(\*\*|\*)/);
  const body = parts
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : RE2JS.quote(part)))
    .join('');
  return { source: glob, pattern: RE2JS.compile(`^${body}$`, RE2JS.DOTALL) };
}

/**
 * The name a glob sees: an already normalised reference with `@digest` and
 * then `:tag` (a `:` after the last `/`, so a registry port survives) removed.
 */
export function imageName(normalisedReference: string): string {
  const at = normalisedReference.indexOf('@');
  const withoutDigest = at === -1 ? normalisedReference : normalisedReference.slice(0, at);
  const colon = withoutDigest.lastIndexOf(':');
  return colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
}

/** Whether a normalised reference (tag and digest allowed, and ignored) matches the glob. */
export function matchesGlob(glob: ImageGlob, normalisedReference: string): boolean {
  return glob.pattern.matches(imageName(normalisedReference));
}
