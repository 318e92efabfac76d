/**
 * Image globs of `match.images` and `exceptions[].images` (design §2): `*`
 * matches within one path segment (never `/`), `**` matches across segments
 * (any characters, `/` included, possibly none). Every other character is
 * literal. As in policy-controller, a glob is compiled once to an anchored
 * pattern; here the engine is RE2 (re2js), so matching is linear in the input
 * whatever glob an admin writes.
 *
 * What a glob is matched against: the canonical image *name*
 * `registry/repository` (registry/reference.ts: `nginx` →
 * `docker.io/library/nginx`, `GHCR.IO:443/o/r` → `ghcr.io/o/r`), with any
 * `:tag` and `@digest` removed. Policies judge digests, and a tag is
 * mutable, so a glob can never select or exempt an image by its tag; a glob
 * that contains `@`, or `:` anywhere but in the registry's port, is invalid.
 * A glob whose registry is not spelled canonically would match nothing (or
 * miss what its author meant), so it is refused with the canonical spelling
 * (`canonicalGlob`).
 */
import { RE2JS } from 're2js';
import { canonicalRegistry } from '../registry/reference.js';

/** Lower-case repository characters, `:` for a registry port, `[` `]` for an IPv6 registry, and the wildcards. */
const globCharacters = /^[a-z0-9._\-/:*[\]]+$/;

/**
 * Why a glob cannot be compiled, or undefined when it can. Reasons are short
 * and stable enough for a validation message; callers assert on their own
 * problem codes, not on this text. A glob that is valid but not spelled
 * canonically is `canonicalGlob`'s to report, with its canonical spelling.
 */
export function globProblem(glob: string): string | undefined {
  if (glob === '') return 'empty glob';
  if (!globCharacters.test(glob.toLowerCase()))
    return 'only a-z, 0-9, ".", "_", "-", "/", ":", "[", "]" and "*" are allowed';
  if (glob.includes('***')) return '"***" is ambiguous';
  const slash = glob.indexOf('/');
  if (slash === -1) return 'a glob names a registry and a repository ("registry/repo…")';
  const path = glob.slice(slash);
  if (path.includes(':')) return 'tags are not matched: remove ":tag"';
  if (/[[\]]/.test(path)) return '"[" and "]" belong only in an IPv6 registry address';
  if (/[A-Z]/.test(path)) return 'repository paths are lower case';
  return undefined;
}

/**
 * The canonical spelling of a glob whose registry part is not canonical —
 * upper case, `:443`, an uncompressed or upper-case IPv6 address, a Docker
 * Hub alias, or a Docker Hub name without its implicit `library/` — and
 * undefined for a glob already spelled canonically (or naming no registry).
 * A registry part with `*` is only lower-cased and stripped of `:443`.
 */
export function canonicalGlob(glob: string): string | undefined {
  const slash = glob.indexOf('/');
  if (slash <= 0) return undefined;
  const host = glob.slice(0, slash);
  let path = glob.slice(slash + 1);
  const lowered = host.toLowerCase().replace(/:443$/, '');
  const registry = host.includes('*') ? lowered : (canonicalRegistry(host) ?? lowered);
  // Docker Hub names always have two segments or more (`docker.io/library/nginx`).
  if (registry === 'docker.io' && !path.includes('/') && !path.includes('**')) path = `library/${path}`;
  const canonical = `${registry}/${path}`;
  return canonical === glob ? undefined : canonical;
}

/** A compiled glob; `source` is kept for messages and status. */
export interface ImageGlob {
  readonly source: string;
  readonly pattern: RE2JS;
}

/**
 * Compiles a glob. Returns undefined when `globProblem` reports a problem or
 * `canonicalGlob` another spelling, so
 * callers validate first and never compile an invalid glob by accident.
 */
export function compileGlob(glob: string): ImageGlob | undefined {
  if (globProblem(glob) !== undefined || canonicalGlob(glob) !== undefined) return undefined;
  const parts = glob.split(/(\*\*|\*)/);
  const body = parts
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : RE2JS.quote(part)))
    .join('');
  return { source: glob, pattern: RE2JS.compile(`^${body}$`, RE2JS.DOTALL) };
}

/**
 * The name a glob sees: an already canonical reference with `@digest` and
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
