/**
 * Identity matching for keyless signatures. Patterns are RE2 syntax, as in
 * cosign, policy-controller and CEL, and run on re2js: linear time whatever
 * the pattern, so a hostile certificate cannot make a policy backtrack for
 * minutes. Never `new RegExp` on user input here.
 */
import type { X509Certificate } from '@sigstore/core';
import { RE2JS } from 're2js';
import { VerifyError } from './errors.js';
import {
  githubWorkflowOids,
  readGithubWorkflowClaims,
  type GithubWorkflowClaim,
  type GithubWorkflowClaims,
} from './fulcio.js';

/** Inputs longer than this never match (design §2: matched inputs are capped at 4 KiB). */
export const maxIdentityInputBytes = 4096;

/** How a signer's identity (certificate SAN) or issuer must look. */
export type IdentityMatcher =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regexp'; readonly source: string; readonly pattern: RE2JS; readonly anchored: boolean };

export function exactIdentity(value: string): IdentityMatcher {
  return { kind: 'exact', value };
}

/**
 * Compiles an RE2 pattern. Matching is unanchored, as with cosign's
 * `--certificate-identity-regexp`: `anchored` tells callers whether the
 * pattern pins both ends (`^…$`) so they can warn when it does not.
 * @throws VerifyError `IdentityPatternInvalid` with the RE2 parser's message as cause.
 */
export function regexpIdentity(source: string): IdentityMatcher {
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(source);
  } catch (error: unknown) {
    throw new VerifyError('IdentityPatternInvalid', `invalid RE2 pattern ${JSON.stringify(source)}`, {
      cause: error,
    });
  }
  return { kind: 'regexp', source, pattern, anchored: isAnchored(source) };
}

/** `^…$` (or `\A…\z`) around the whole pattern, with the final `$` not escaped. */
function isAnchored(source: string): boolean {
  const starts = source.startsWith('^') || source.startsWith('\\A');
  const ends = (source.endsWith('$') && !source.endsWith('\\$')) || source.endsWith('\\z');
  return starts && ends;
}

export function matchesIdentity(matcher: IdentityMatcher, input: string): boolean {
  if (Buffer.byteLength(input, 'utf8') > maxIdentityInputBytes) {
    return false;
  }
  switch (matcher.kind) {
    case 'exact':
      return matcher.value === input;
    case 'regexp':
      return matcher.pattern.matcher(input).find();
  }
}

export function describeMatcher(matcher: IdentityMatcher): string {
  return matcher.kind === 'exact' ? JSON.stringify(matcher.value) : `/${matcher.source}/ (RE2)`;
}

/** In cosign's order of checks (`validateCertExtensions`), so the first mismatch named is cosign's. */
const workflowClaims = Object.keys(githubWorkflowOids) as GithubWorkflowClaim[];

/**
 * cosign's `--certificate-github-workflow-*` on a verified leaf: every
 * expected claim must equal the leaf's extension exactly (no pattern, no case
 * folding); an absent extension equals no value. An empty expected value is no
 * constraint, as in cosign. Returns the first mismatch, or undefined. The leaf
 * is read only when something is expected; no leaf has no claims. Never throws.
 */
export function githubWorkflowMismatch(
  expected: GithubWorkflowClaims | undefined,
  leaf: X509Certificate | undefined,
): string | undefined {
  const wanted = workflowClaims.filter((claim) => (expected?.[claim] ?? '') !== '');
  if (wanted.length === 0) return undefined;
  const actual = leaf === undefined ? {} : readGithubWorkflowClaims(leaf);
  for (const claim of wanted) {
    const want = expected?.[claim];
    const got = actual[claim];
    if (got !== want) {
      const has = got === undefined ? 'has no usable' : `has ${JSON.stringify(got)} as`;
      return `the certificate ${has} GitHub workflow ${claim} (${githubWorkflowOids[claim]}), not ${JSON.stringify(want)}`;
    }
  }
  return undefined;
}
