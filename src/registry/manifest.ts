/**
 * OCI / Docker manifests and indexes, parsed into checked plain data. Only the
 * fields Sigwatch reads are kept; everything a registry sends is validated
 * (descriptor digests, sizes, counts) before anyone trusts it.
 */
import { parseDigest, type Digest } from '../base/digest.js';
import { RegistryError } from './errors.js';

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Sent on every manifest GET and HEAD: the digest a tag resolves to depends on it. */
export const manifestAccept = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerList,
  MediaTypes.dockerManifest,
].join(', ');

const indexTypes: readonly string[] = [MediaTypes.ociIndex, MediaTypes.dockerList];
const imageTypes: readonly string[] = [MediaTypes.ociManifest, MediaTypes.dockerManifest];

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly platform?: { readonly os: string; readonly architecture: string; readonly variant?: string };
}

interface ManifestCommon {
  readonly mediaType: string;
  readonly artifactType?: string;
  readonly subject?: Descriptor;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface ImageManifest extends ManifestCommon {
  readonly kind: 'image';
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  /** Layers left out by `overflow: 'keep-last'` (the oldest ones). */
  readonly omitted?: number;
}

export interface IndexManifest extends ManifestCommon {
  readonly kind: 'index';
  readonly manifests: readonly Descriptor[];
  /** Manifests left out by `overflow: 'keep-last'` (the first ones). */
  readonly omitted?: number;
}

/** Over `maxEntries`: refuse (LimitExceeded), or keep the last ones (layers are appended: the newest). */
export type Overflow = 'refuse' | 'keep-last';

export type Manifest = ImageManifest | IndexManifest;

const bad = (why: string): RegistryError => new RegistryError('ProtocolError', `malformed manifest: ${why}`);

function stringMap(value: unknown, what: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw bad(`${what} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`${what}.${k} is not a string`);
    out[k] = v;
  }
  return out;
}

export function parseDescriptor(value: unknown, what: string): Descriptor {
  if (typeof value !== 'object' || value === null) throw bad(`${what} is not an object`);
  const v = value as Record<string, unknown>;
  const digest = typeof v['digest'] === 'string' ? parseDigest(v['digest']) : undefined;
  if (digest === undefined) throw bad(`${what}.digest is not sha256:<hex>`);
  if (typeof v['mediaType'] !== 'string') throw bad(`${what}.mediaType missing`);
  const size = v['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw bad(`${what}.size is not a non-negative integer`);
  const annotations = stringMap(v['annotations'], `${what}.annotations`);
  const p = v['platform'] as Record<string, unknown> | undefined;
  const platform =
    p !== undefined &&
    typeof p === 'object' &&
    typeof p['os'] === 'string' &&
    typeof p['architecture'] === 'string'
      ? {
          os: p['os'],
          architecture: p['architecture'],
          ...(typeof p['variant'] === 'string' ? { variant: p['variant'] } : {}),
        }
      : undefined;
  return {
    mediaType: v['mediaType'],
    digest,
    size,
    ...(typeof v['artifactType'] === 'string' ? { artifactType: v['artifactType'] } : {}),
    ...(annotations ? { annotations } : {}),
    ...(platform ? { platform } : {}),
  };
}

function descriptors(
  value: unknown,
  what: string,
  max: number,
  overflow: Overflow,
): { list: Descriptor[]; omitted?: number } {
  if (!Array.isArray(value)) throw bad(`${what} is not an array`);
  if (value.length > max && overflow === 'refuse') {
    throw new RegistryError(
      'LimitExceeded',
      `${what} has ${String(value.length)} entries, more than ${String(max)}`,
    );
  }
  const omitted = Math.max(0, value.length - max);
  const list = value.slice(omitted).map((d, i) => parseDescriptor(d, `${what}[${String(i + omitted)}]`));
  return omitted > 0 ? { list, omitted } : { list };
}

/**
 * Parses manifest bytes. `contentType` is the response's (parameters
 * ignored); when the body has `mediaType` too, they must agree. Schema 1
 * and unknown types are refused. More than `maxEntries` layers or manifests
 * are refused, or with `keep-last` the last `maxEntries` are kept.
 * @throws RegistryError ProtocolError | LimitExceeded
 */
export function parseManifest(
  body: Uint8Array,
  contentType: string | undefined,
  maxEntries: number,
  overflow: Overflow = 'refuse',
): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch (error: unknown) {
    throw new RegistryError('ProtocolError', 'manifest is not UTF-8 JSON', { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('not a JSON object');
  const o = json as Record<string, unknown>;
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase();
  const bodyType = typeof o['mediaType'] === 'string' ? o['mediaType'] : undefined;
  if (bodyType !== undefined && headerType !== undefined && headerType !== '' && bodyType !== headerType) {
    throw bad(`Content-Type ${headerType} but mediaType ${bodyType}`);
  }
  // OCI manifests may omit mediaType; the Content-Type header then decides,
  // and failing that the shape (`manifests` vs `layers`).
  const mediaType =
    bodyType ?? headerType ?? (Array.isArray(o['manifests']) ? MediaTypes.ociIndex : MediaTypes.ociManifest);
  if (o['schemaVersion'] !== 2) throw bad('schemaVersion is not 2 (schema 1 is unsupported)');
  const common = {
    mediaType,
    ...(typeof o['artifactType'] === 'string' ? { artifactType: o['artifactType'] } : {}),
    ...(o['subject'] !== undefined ? { subject: parseDescriptor(o['subject'], 'subject') } : {}),
  };
  const annotations = stringMap(o['annotations'], 'annotations');
  if (indexTypes.includes(mediaType)) {
    const { list, omitted } = descriptors(o['manifests'], 'manifests', maxEntries, overflow);
    return {
      kind: 'index',
      ...common,
      ...(annotations ? { annotations } : {}),
      manifests: list,
      ...(omitted === undefined ? {} : { omitted }),
    };
  }
  if (imageTypes.includes(mediaType)) {
    const { list, omitted } = descriptors(o['layers'] ?? [], 'layers', maxEntries, overflow);
    return {
      kind: 'image',
      ...common,
      ...(annotations ? { annotations } : {}),
      config: parseDescriptor(o['config'], 'config'),
      layers: list,
      ...(omitted === undefined ? {} : { omitted }),
    };
  }
  throw bad(`unsupported media type ${mediaType}`);
}

/** Manifest and index media types a registry serves (schema 1 included: served content, though refused). */
const servedManifestTypes: readonly string[] = [
  ...indexTypes,
  ...imageTypes,
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

/** Whether a Content-Type (parameters ignored) is a manifest or index media type. */
export function isManifestMediaType(contentType: string | undefined): boolean {
  return servedManifestTypes.includes(contentType?.split(';')[0]?.trim().toLowerCase() ?? '');
}

/**
 * Whether bytes are shaped like a manifest a registry serves: a JSON object
 * with `schemaVersion` 2 or a manifest or index `mediaType`. Only such
 * content, when unusable, is a definite answer; a login or error page that
 * happens to hash to its `Docker-Content-Digest` header is no answer at all.
 */
export function isManifestShaped(body: Uint8Array): boolean {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return false;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return false;
  const o = json as Record<string, unknown>;
  return (
    o['schemaVersion'] === 2 || (typeof o['mediaType'] === 'string' && isManifestMediaType(o['mediaType']))
  );
}
