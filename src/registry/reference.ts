/**
 * Image references and the `imageID` forms container runtimes report
 * (formats.md §3), normalised the way distribution/reference does
 * (`nginx` → docker.io/library/nginx:latest) and then made canonical (design
 * §5): one spelling per registry, so that a policy, an exception, an evidence
 * key and a label see the same name however a pod spec, a runtime or a user
 * wrote it. `GHCR.IO`, `ghcr.io:443` and `ghcr.io` are one registry; so are
 * `index.docker.io`, `registry-1.docker.io`, `registry.hub.docker.com` and
 * `docker.io`. Every reference is canonicalised here, where it enters.
 */
import { parseDigest, type Digest } from '../base/digest.js';
import { RegistryError } from './errors.js';

export interface ImageReference {
  /** Registry host[:port], canonical (`canonicalRegistry`: `docker.io`, `localhost:5000`, `[::1]:5000`). */
  readonly registry: string;
  /** Path inside the registry (`library/nginx`). */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

const pathComponent = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const domainPattern =
  /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const maxNameLength = 255;

/** Names of Docker Hub: all one registry, whose canonical name is `docker.io` (its API host is `apiHost`'s). */
const dockerHubNames: ReadonlySet<string> = new Set([
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]);

/**
 * The canonical name of a registry `host[:port]`: the host as the WHATWG URL
 * parser reads it in `https://host[:port]` — names lower-cased (DNS is
 * case-insensitive), IPv6 compressed with lower-case hex, IPv4 in dotted
 * decimal, the default port 443 dropped (Sigwatch speaks HTTPS unless told
 * otherwise, and then `plainHttpAuthorities` keeps the port) — with Docker
 * Hub's aliases folded into `docker.io`. Two spellings with one canonical
 * name reach the same address, so canonicalising never sends a request
 * anywhere new. Undefined when the text is not a registry host[:port].
 */
export function canonicalRegistry(host: string): string | undefined {
  if (!domainPattern.test(host)) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(`https://${host}`);
  } catch {
    return undefined; // a port above 65535, a name that ends in a number but is no IPv4 address
  }
  return dockerHubNames.has(parsed.host) ? 'docker.io' : parsed.host;
}

function invalid(input: string, why: string): RegistryError {
  return new RegistryError(
    'InvalidReference',
    `invalid image reference ${JSON.stringify(input.slice(0, 300))}: ${why}`,
  );
}

/**
 * Parses `[domain/]path[:tag][@sha256:hex]`. The default tag `latest` is added
 * only when there is neither tag nor digest; with both, the digest wins and
 * the tag is kept as information.
 * @throws RegistryError `InvalidReference`
 */
export function parseReference(input: string): ImageReference {
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = parseDigest(rest.slice(at + 1));
    if (d === undefined) {
      throw invalid(input, 'digest must be sha256:<64 lower-case hex>');
    }
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!tagPattern.test(tag)) {
      throw invalid(input, 'bad tag');
    }
  }
  const { registry, repository } = splitName(rest, input);
  if (tag === undefined && digest === undefined) {
    tag = 'latest';
  }
  return {
    registry,
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function splitName(name: string, input: string): { registry: string; repository: string } {
  if (name.length === 0 || name.length > maxNameLength) {
    throw invalid(input, 'empty or too long name');
  }
  if (/^[a-f0-9]{64}$/.test(name)) {
    throw invalid(input, 'a 64-hex name is an image ID, not a repository');
  }
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  // distribution/reference: the first component is a domain if it is
  // `localhost`, or contains '.' or ':', or has an upper-case letter.
  const isDomain = slash >= 0 && (first === 'localhost' || /[.:]/.test(first) || /[A-Z]/.test(first));
  const registry = isDomain ? canonicalRegistry(first) : 'docker.io';
  let repository = isDomain ? name.slice(slash + 1) : name;
  if (registry === undefined) {
    throw invalid(input, 'bad registry host');
  }
  if (registry === 'docker.io' && !repository.includes('/')) {
    repository = `library/${repository}`;
  }
  const parts = repository.split('/');
  if (!parts.every((p) => pathComponent.test(p))) {
    throw invalid(input, 'repository path components must be lower-case [a-z0-9] joined by . _ __ or -');
  }
  return { registry, repository };
}

/** `registry/repository[:tag][@digest]` */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** What a runtime's `imageID` says about the running image. */
export type ImageIdInfo =
  /** A repository digest: the manifest (or index) digest that was pulled. */
  | { readonly kind: 'repoDigest'; readonly reference: ImageReference & { readonly digest: Digest } }
  /** A bare image ID: the config digest, not addressable in a registry. */
  | { readonly kind: 'configDigest'; readonly digest: Digest };

/**
 * Interprets `status.containerStatuses[].imageID`: strips the dockershim
 * `docker-pullable://` and `docker://` prefixes, then takes a repo digest
 * (`repo@sha256:…`) or a bare config digest (`sha256:…`).
 * @throws RegistryError `InvalidReference` for anything else (empty, tag-only).
 */
export function parseImageId(imageID: string): ImageIdInfo {
  const stripped = imageID.replace(/^docker-pullable:\/\//, '').replace(/^docker:\/\//, '');
  const bare = parseDigest(stripped);
  if (bare !== undefined) {
    return { kind: 'configDigest', digest: bare };
  }
  const ref = parseReference(stripped);
  if (ref.digest === undefined) {
    throw invalid(imageID, 'imageID has no digest');
  }
  return { kind: 'repoDigest', reference: { ...ref, digest: ref.digest } };
}

/**
 * The host to talk to for a canonical registry name. Docker Hub's canonical
 * name is not its API host; every other canonical name is its own address
 * (a dropped `:443` is HTTPS's default port).
 */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}
