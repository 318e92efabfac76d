/**
 * Registry credentials from docker `config.json` documents — the file, or the
 * `.dockerconfigjson` / legacy `.dockercfg` data of a Kubernetes pull secret
 * (the caller decodes the Secret; no Kubernetes types here). Matching follows
 * the kubelet (formats.md §2): keys may carry a scheme, a path prefix, and
 * `*` globs that match exactly one DNS label; every matching entry is a
 * candidate, most specific first.
 */
import { SigwatchError } from '../base/errors.js';
import { canonicalRegistry } from './reference.js';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** An OAuth2 refresh token (`identitytoken` in config.json), exchanged at the token realm. */
export interface IdentityToken {
  readonly identityToken: string;
}

export type RegistryCredentials = BasicCredentials | IdentityToken;

export const isBasic = (c: RegistryCredentials): c is BasicCredentials => 'username' in c;

export interface CredentialEntry {
  /** Host pattern, possibly with `*` labels and a port. */
  readonly host: string;
  /** Path prefix inside the registry ('' for all). */
  readonly path: string;
  readonly credentials: RegistryCredentials;
}

export type CredentialsErrorCode = 'DockerConfigInvalid';
export class CredentialsError extends SigwatchError<CredentialsErrorCode> {}

/**
 * A key's host in the canonical spelling image names have (reference.ts
 * `canonicalRegistry`), so that `GHCR.IO` or `ghcr.io:443` keys still match
 * the canonical `ghcr.io`; a pattern with `*` labels is no host, and is only
 * lower-cased and stripped of `:443`.
 */
function canonicalHostPattern(host: string): string {
  return canonicalRegistry(host) ?? host.toLowerCase().replace(/:443$/, '');
}

function entryFrom(key: string, value: unknown): CredentialEntry | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  let username: string | undefined;
  let password: string | undefined;
  let identityToken: string | undefined;
  if (typeof v['identitytoken'] === 'string' && v['identitytoken'] !== '') {
    // docker login stores a refresh token here (and `<token>` as the user in
    // `auth`); the token is what the registry expects to be exchanged.
    identityToken = v['identitytoken'];
  } else if (typeof v['auth'] === 'string' && v['auth'] !== '') {
    // `auth` wins over username/password when both are set (docker's rule).
    const decoded = Buffer.from(v['auth'], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  } else if (typeof v['username'] === 'string' && typeof v['password'] === 'string') {
    username = v['username'];
    password = v['password'];
  }
  const credentials: RegistryCredentials | undefined =
    identityToken !== undefined
      ? { identityToken }
      : username !== undefined && password !== undefined
        ? { username, password }
        : undefined;
  if (credentials === undefined) return undefined;
  let rest = key.replace(/^[a-z]+:\/\//, '');
  let end = rest.length;
  while (end > 0 && rest[end - 1] === '/') end--; // a loop, not /\/+$/ (quadratic on slashes not at the end)
  rest = rest.slice(0, end);
  if (rest === 'index.docker.io/v1' || rest === 'index.docker.io' || rest === 'registry-1.docker.io') {
    rest = 'docker.io';
  }
  const slash = rest.indexOf('/');
  return {
    host: canonicalHostPattern(slash < 0 ? rest : rest.slice(0, slash)),
    path: slash < 0 ? '' : rest.slice(slash + 1),
    credentials,
  };
}

/**
 * Parses a docker config (`{"auths": {...}}`) or a legacy dockercfg (the map
 * itself). Entries without usable credentials are skipped.
 * @throws CredentialsError `DockerConfigInvalid` when the text is not a JSON object.
 */
export function parseDockerConfig(text: string): CredentialEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error: unknown) {
    throw new CredentialsError('DockerConfigInvalid', 'docker config is not JSON', { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CredentialsError('DockerConfigInvalid', 'docker config is not a JSON object');
  }
  const obj = json as Record<string, unknown>;
  const auths =
    typeof obj['auths'] === 'object' && obj['auths'] !== null
      ? (obj['auths'] as Record<string, unknown>)
      : obj;
  const entries: CredentialEntry[] = [];
  for (const [key, value] of Object.entries(auths)) {
    const e = entryFrom(key, value);
    if (e) entries.push(e);
  }
  return entries;
}

function hostMatches(pattern: string, host: string): boolean {
  const [pHost = '', pPort] = pattern.split(/:(?=\d+$)/);
  const [hHost = '', hPort] = host.toLowerCase().split(/:(?=\d+$)/);
  if (pPort !== hPort) return false;
  const pLabels = pHost.split('.');
  const hLabels = hHost.split('.');
  return pLabels.length === hLabels.length && pLabels.every((l, i) => l === '*' || l === hLabels[i]);
}

/**
 * Credentials to try for `registry/repository`, most specific entry first
 * (longest path prefix, then exact host before globs).
 */
export function credentialsFor(
  entries: readonly CredentialEntry[],
  registry: string,
  repository: string,
): RegistryCredentials[] {
  return entries
    .filter(
      (e) =>
        hostMatches(e.host, registry) &&
        (e.path === '' || repository === e.path || repository.startsWith(`${e.path}/`)),
    )
    .sort(
      (a, b) => b.path.length - a.path.length || Number(a.host.includes('*')) - Number(b.host.includes('*')),
    )
    .map((e) => e.credentials);
}

/**
 * Credentials from the data of a Kubernetes image-pull Secret (`Secret.data`,
 * base64 values): type `kubernetes.io/dockerconfigjson` (key
 * `.dockerconfigjson`) or the legacy `kubernetes.io/dockercfg` (key `.dockercfg`).
 * @throws CredentialsError `DockerConfigInvalid` for another type or a missing key.
 */
export function parsePullSecret(type: string, data: Readonly<Record<string, string>>): CredentialEntry[] {
  const key =
    type === 'kubernetes.io/dockerconfigjson'
      ? '.dockerconfigjson'
      : type === 'kubernetes.io/dockercfg'
        ? '.dockercfg'
        : undefined;
  if (key === undefined) {
    throw new CredentialsError('DockerConfigInvalid', `secret type ${type} holds no registry credentials`);
  }
  const value = data[key];
  if (value === undefined) {
    throw new CredentialsError('DockerConfigInvalid', `secret of type ${type} has no ${key} key`);
  }
  return parseDockerConfig(Buffer.from(value, 'base64').toString('utf8'));
}
