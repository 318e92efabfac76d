/**
 * A minimal OCI distribution client for tests, on Node's own fetch: push blobs
 * and manifests, read manifests, tags and referrers. It trusts the loopback
 * registries of hack/testenv and has none of the product client's safety
 * limits; Sigwatch's real registry client lives in src/registry.
 */
import { createHash } from 'node:crypto';

export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string; variant?: string };
}

export interface Manifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export const sha256 = (data: Uint8Array): string =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Every request in tests gets a deadline; a hung registry fails the test, not the run. */
const timeout = (): AbortSignal => AbortSignal.timeout(15_000);

async function check(res: Response, what: string, ok: readonly number[]): Promise<Response> {
  if (!ok.includes(res.status)) {
    const body = await res.text().catch(() => '');
    throw new Error(`${what}: HTTP ${String(res.status)} ${body.slice(0, 300)}`);
  }
  return res;
}

/** Uploads a blob monolithically (POST then PUT ?digest=) unless the registry has it. */
export async function pushBlob(
  registry: string,
  repo: string,
  data: Uint8Array,
  mediaType: string,
): Promise<Descriptor> {
  const digest = sha256(data);
  const base = `http://${registry}/v2/${repo}/blobs`;
  const head = await fetch(`${base}/${digest}`, { method: 'HEAD', signal: timeout() });
  if (head.status !== 200) {
    const start = await check(
      await fetch(`${base}/uploads/`, { method: 'POST', signal: timeout() }),
      `start upload to ${repo}`,
      [202],
    );
    const location = start.headers.get('location');
    if (location === null) {
      throw new Error(`upload to ${repo}: no Location header`);
    }
    const url = new URL(location, `http://${registry}`);
    url.searchParams.set('digest', digest);
    await check(
      await fetch(url, {
        method: 'PUT',
        body: data,
        headers: { 'content-type': 'application/octet-stream' },
        signal: timeout(),
      }),
      `finish upload to ${repo}`,
      [201],
    );
  }
  return { mediaType, digest, size: data.byteLength };
}

/** PUTs a manifest under a tag or its digest; returns its descriptor. */
export async function pushManifest(
  registry: string,
  repo: string,
  manifest: Manifest,
  reference?: string,
): Promise<Descriptor> {
  const body = new TextEncoder().encode(JSON.stringify(manifest));
  const digest = sha256(body);
  await check(
    await fetch(`http://${registry}/v2/${repo}/manifests/${reference ?? digest}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': manifest.mediaType },
      signal: timeout(),
    }),
    `put manifest ${repo}:${reference ?? digest}`,
    [201],
  );
  return { mediaType: manifest.mediaType, digest, size: body.byteLength };
}

export interface Fetched<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T | undefined;
}

const acceptManifests = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

/** GETs a manifest by tag or digest; 404 gives `body: undefined`, and a digest reference is checked. */
export async function getManifest(
  registry: string,
  repo: string,
  reference: string,
): Promise<Fetched<Manifest>> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${reference}`, {
    headers: { accept: acceptManifests },
    signal: timeout(),
  });
  if (res.status === 404) {
    return { status: 404, headers: res.headers, body: undefined };
  }
  await check(res, `get manifest ${repo}:${reference}`, [200]);
  const raw = new Uint8Array(await res.arrayBuffer());
  if (reference.startsWith('sha256:') && sha256(raw) !== reference) {
    throw new Error(`manifest ${repo}@${reference}: content digest is ${sha256(raw)}`);
  }
  return { status: 200, headers: res.headers, body: JSON.parse(new TextDecoder().decode(raw)) as Manifest };
}

/** GETs a blob and checks its digest. */
export async function getBlob(registry: string, repo: string, digest: string): Promise<Uint8Array> {
  const res = await check(
    await fetch(`http://${registry}/v2/${repo}/blobs/${digest}`, { signal: timeout() }),
    `get blob ${digest}`,
    [200],
  );
  const raw = new Uint8Array(await res.arrayBuffer());
  if (sha256(raw) !== digest) {
    throw new Error(`blob ${repo}@${digest}: content digest is ${sha256(raw)}`);
  }
  return raw;
}

/** GET /v2/<repo>/referrers/<digest> (OCI 1.1); a registry without the API answers 404. */
export async function getReferrers(
  registry: string,
  repo: string,
  digest: string,
  artifactType?: string,
): Promise<Fetched<Manifest>> {
  const url = new URL(`http://${registry}/v2/${repo}/referrers/${digest}`);
  if (artifactType !== undefined) {
    url.searchParams.set('artifactType', artifactType);
  }
  const res = await fetch(url, { headers: { accept: MediaType.ociIndex }, signal: timeout() });
  if (res.status === 404) {
    return { status: 404, headers: res.headers, body: undefined };
  }
  await check(res, `referrers of ${repo}@${digest}`, [200]);
  return { status: 200, headers: res.headers, body: (await res.json()) as Manifest };
}

/** The tag under which cosign and the referrers fallback scheme store things about `digest`. */
export const digestTag = (digest: string, suffix = ''): string => `${digest.replace(':', '-')}${suffix}`;
