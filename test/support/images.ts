/**
 * Real images for tests: each layer is a gzipped tar, the config lists the
 * layers' diff IDs, and the manifest is a proper OCI image manifest, so cosign,
 * crane, containerd and Sigwatch treat it like any image built by a real tool.
 * Random images hold random bytes; runnable ones (for the cluster profile's
 * node) hold hack/testapp's static binary and start in a pod.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MediaType, pushBlob, pushManifest, sha256, type Descriptor } from './oci-http.js';

/** A one-file POSIX ustar archive (512-byte header, data padded to 512, two zero blocks). */
export function tarOneFile(name: string, data: Uint8Array, mtimeSeconds = 0, mode = 0o644): Uint8Array {
  const header = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number): void => {
    header.write(value, offset, length, 'ascii');
  };
  const octal = (n: number, length: number): string => n.toString(8).padStart(length - 1, '0');
  field(name, 0, 100);
  field(octal(mode, 8), 100, 8);
  field(octal(0, 8), 108, 8);
  field(octal(0, 8), 116, 8);
  field(octal(data.byteLength, 12), 124, 12);
  field(octal(mtimeSeconds, 12), 136, 12);
  field('        ', 148, 8); // checksum is computed with its own field as spaces
  field('0', 156, 1);
  field('ustar\u000000', 257, 8);
  let sum = 0;
  for (const byte of header) {
    sum += byte;
  }
  field(`${octal(sum, 7)}\u0000 `, 148, 8);
  const padded = Buffer.alloc(Math.ceil(data.byteLength / 512) * 512);
  padded.set(data);
  return Buffer.concat([header, padded, Buffer.alloc(1024)]);
}

export interface PushedImage {
  /** `host:port/repo` */
  readonly repository: string;
  readonly digest: string;
  /** `host:port/repo@sha256:…` */
  readonly ref: string;
  readonly descriptor: Descriptor;
}

export interface RandomImageOptions {
  readonly tag?: string;
  readonly layers?: number;
  readonly layerBytes?: number;
  readonly platform?: { architecture: string; os: string };
}

/** Pushes a random single-platform image and returns its manifest digest. */
export async function pushRandomImage(
  registry: string,
  repo: string,
  options: RandomImageOptions = {},
): Promise<PushedImage> {
  const { layers = 2, layerBytes = 4096, platform = { architecture: 'amd64', os: 'linux' } } = options;
  const layerDescs: Descriptor[] = [];
  const diffIds: string[] = [];
  for (let i = 0; i < layers; i++) {
    const tar = tarOneFile(`layer-${String(i)}.bin`, randomBytes(layerBytes));
    diffIds.push(sha256(tar));
    layerDescs.push(await pushBlob(registry, repo, gzipSync(tar), MediaType.ociLayerGzip));
  }
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: platform.architecture,
      os: platform.os,
      config: {},
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
  const configDesc = await pushBlob(registry, repo, config, MediaType.ociConfig);
  const descriptor = await pushManifest(
    registry,
    repo,
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers: layerDescs },
    options.tag,
  );
  return image(registry, repo, descriptor);
}

/** The testapp layer, gzipped once per run (the binary is ~5 MB; gzip is deterministic). */
let testappLayer: { readonly gz: Buffer; readonly diffId: string } | undefined;

function runnableLayer(): { readonly gz: Buffer; readonly diffId: string } {
  if (testappLayer === undefined) {
    const cache = process.env['SIGWATCH_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'sigwatch');
    const tar = tarOneFile('testapp', readFileSync(join(cache, 'bin', 'testapp')), 0, 0o755);
    testappLayer = { gz: gzipSync(tar), diffId: sha256(tar) };
  }
  return testappLayer;
}

/**
 * Pushes an image that runs: hack/testapp (sleeps, answers `/healthz` on
 * :8080, exits on SIGTERM) plus a one-file layer of random bytes, so every
 * call gives a new digest — a tag re-pushed with this is a different image.
 */
export async function pushRunnableImage(registry: string, repo: string, tag?: string): Promise<PushedImage> {
  const app = runnableLayer();
  const nonce = tarOneFile('nonce', randomBytes(32));
  const layers = [
    await pushBlob(registry, repo, app.gz, MediaType.ociLayerGzip),
    await pushBlob(registry, repo, gzipSync(nonce), MediaType.ociLayerGzip),
  ];
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Entrypoint: ['/testapp'], ExposedPorts: { '8080/tcp': {} } },
      rootfs: { type: 'layers', diff_ids: [app.diffId, sha256(nonce)] },
    }),
  );
  const configDesc = await pushBlob(registry, repo, config, MediaType.ociConfig);
  const descriptor = await pushManifest(
    registry,
    repo,
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers },
    tag,
  );
  return image(registry, repo, descriptor);
}

/**
 * Pushes a multi-platform index over random linux/amd64 and linux/arm64
 * images; with `runnable`, the amd64 entry is a runnable image (a node here
 * pulls and runs it from the index).
 */
export async function pushRandomIndex(
  registry: string,
  repo: string,
  tag?: string,
  runnable = false,
): Promise<{ index: PushedImage; platforms: PushedImage[] }> {
  const platforms: PushedImage[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    platforms.push(
      runnable && architecture === 'amd64'
        ? await pushRunnableImage(registry, repo)
        : await pushRandomImage(registry, repo, { platform: { architecture, os: 'linux' }, layers: 1 }),
    );
  }
  const manifests = platforms.map((p, i) => ({
    ...p.descriptor,
    platform: { architecture: i === 0 ? 'amd64' : 'arm64', os: 'linux' },
  }));
  const descriptor = await pushManifest(
    registry,
    repo,
    { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests },
    tag,
  );
  return { index: image(registry, repo, descriptor), platforms };
}

function image(registry: string, repo: string, descriptor: Descriptor): PushedImage {
  const repository = `${registry}/${repo}`;
  return { repository, digest: descriptor.digest, ref: `${repository}@${descriptor.digest}`, descriptor };
}

/** A repository name no other test uses. */
export const randomRepo = (prefix = 'sigwatch-test'): string => `${prefix}/${randomBytes(4).toString('hex')}`;
