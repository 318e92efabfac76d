/**
 * Small checks on registry responses shared by the client's operations:
 * status handling, Link-header paging and content digests.
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../base/digest.js';
import type { Repository } from './authenticator.js';
import { RegistryError } from './errors.js';
import type { HttpResponse } from './transport.js';

/** The sha256 digest of exact bytes. */
export const sha256 = (data: Uint8Array): Digest =>
  `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;

/**
 * Accepts 200; 401/403 (after authentication was tried) are `Unauthorized`,
 * anything else a `ProtocolError`. 404s are handled by callers before this.
 * @throws RegistryError
 */
export function expectOk(res: HttpResponse, repo: Repository, what: string): void {
  if (res.status === 200) return;
  const where = `${repo.registry}/${repo.repository}: ${what}`;
  if (res.status === 401 || res.status === 403) {
    throw new RegistryError('Unauthorized', `${where}: HTTP ${String(res.status)}`, { status: res.status });
  }
  throw new RegistryError('ProtocolError', `${where}: unexpected HTTP ${String(res.status)}`, {
    status: res.status,
  });
}

/**
 * What a 404 says, read from its body: `manifest-unknown` only for the OCI
 * error JSON with the code `MANIFEST_UNKNOWN` (the registry's own "no such
 * manifest"); `name-unknown` for `NAME_UNKNOWN` (no such repository);
 * `other` for anything else (an ingress's HTML page, an empty body, another
 * code), which says nothing about what the registry holds.
 *
 * Harbor (through 2.x) answers a missing manifest with the code `NOT_FOUND`,
 * which the distribution spec does not list (goharbor/harbor#20764); taken
 * as `manifest-unknown`, or every unsigned image on Harbor would stay
 * Unknown for ever. It still counts only where the caller's other conditions
 * hold (a repository that answered in this fetch).
 */
export function notFoundKind(body: Uint8Array): 'manifest-unknown' | 'name-unknown' | 'other' {
  let codes: unknown[];
  try {
    const json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)) as unknown;
    const errors = (json as { errors?: unknown } | null)?.errors;
    if (!Array.isArray(errors)) return 'other';
    codes = errors.map((e) => (e as { code?: unknown } | null)?.code);
  } catch {
    return 'other';
  }
  if (codes.includes('MANIFEST_UNKNOWN') || codes.includes('NOT_FOUND')) return 'manifest-unknown';
  return codes.includes('NAME_UNKNOWN') ? 'name-unknown' : 'other';
}

/** The `rel="next"` target of an RFC 8288 Link header. */
export function nextLink(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]*)>\s*;(.*)/.exec(part);
    if (m?.[1] !== undefined && /rel\s*=\s*"?next"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}
