/**
 * Misbehaving registries (design §6): every case of a response that did not
 * arrive whole or is not the registry's own answer must end in a typed
 * Unknown-class outcome within the stated limits, with bounded memory, never
 * a crash and never evidence that could support "signature missing". Content
 * the registry served completely (issue 14, findings 3 and 5) is a definite
 * answer, and its cases assert that answer under the same bounds.
 */
import { expect } from 'chai';
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../../../src/base/digest.js';
import type { UnknownReason } from '../../../src/base/reasons.js';
import { OperatorMetrics } from '../../../src/operator/metrics.js';
import { RegistryClient, type Repository } from '../../../src/registry/client.js';
import { parseDockerConfig } from '../../../src/registry/credentials.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { collectEvidence, type Evidence, type SourceItem } from '../../../src/registry/evidence.js';
import type { RegistryLimits } from '../../../src/registry/limits.js';
import type { Authority } from '../../../src/verify/authority.js';
import { checkAttestation } from '../../../src/verify/attestations.js';
import { checkImageSignatures } from '../../../src/verify/image-signatures.js';
import { signatureLayer, testKey } from '../../support/evidence-builder.js';
import { createTestCa, issueServerCert } from '../../support/test-ca.js';
import {
  sendJson,
  sha256,
  startHostileRegistry,
  type HostileRegistry,
} from '../../support/hostile-registry.js';

const limits: Partial<RegistryLimits> = {
  connectTimeoutMs: 1_000,
  requestTimeoutMs: 1_500,
  perDigestTimeoutMs: 4_000,
  maxRetryAfterMs: 1_000,
  maxAttempts: 2,
};
const perDigestLimitMs = 4_000;

const sigPath = (h: HostileRegistry): RegExp =>
  new RegExp(`^GET /v2/${h.repository}/manifests/sha256-[a-f0-9]{64}\\.sig$`);
const referrersPath = (h: HostileRegistry): RegExp => new RegExp(`^GET /v2/${h.repository}/referrers/`);
const ociIndex = 'application/vnd.oci.image.index.v1+json';
const ociManifest = 'application/vnd.oci.image.manifest.v1+json';

interface Outcome {
  readonly evidence: Evidence;
  readonly elapsedMs: number;
  readonly rssGrowthBytes: number;
}

interface CollectExtras {
  readonly extraRepositories?: readonly Repository[];
  readonly previous?: Evidence;
}

async function collectFrom(
  h: HostileRegistry,
  client?: RegistryClient,
  extras: CollectExtras = {},
): Promise<Outcome> {
  const c = client ?? new RegistryClient({ plainHttpRegistries: [h.address], limits });
  globalThis.gc?.();
  const rss = process.memoryUsage().rss;
  const started = performance.now();
  try {
    const evidence = await collectEvidence(c, {
      image: { registry: h.address, repository: h.repository },
      digest: h.digest as Digest,
      ...extras,
      now: new Date(),
      signal: AbortSignal.timeout(60_000),
    });
    return {
      evidence,
      elapsedMs: performance.now() - started,
      rssGrowthBytes: process.memoryUsage().rss - rss,
    };
  } finally {
    if (client === undefined) await c.close();
  }
}

function reasonOf(ev: Evidence, item: SourceItem): UnknownReason | undefined {
  return ev.sources.find((s) => s.item === item && s.outcome === 'error')?.reason;
}

// Any authority will do: the point is that no hostile case can yield a definite verdict.
const anyKey: Authority = {
  kind: 'key',
  name: 'any',
  publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
  requireTransparencyLog: false,
};

/** The invariants every hostile case must keep. */
function expectSafe(o: Outcome): void {
  // Never a definite verdict, in particular never SignatureMissing: Unknown, with reasons.
  const check = checkImageSignatures(o.evidence, [anyKey], new Date());
  expect(check.verdict, 'signature verdict').to.equal('Unknown');
  expect(o.elapsedMs, 'elapsed ms').to.be.below(perDigestLimitMs + 1_000);
  expect(o.rssGrowthBytes, 'RSS growth').to.be.below(64 << 20);
  expect(o.evidence.complete, 'evidence complete').to.equal(false);
  expect(o.evidence.signatures).to.have.lengthOf(0);
  expect(o.evidence.bundles).to.have.lengthOf(0);
}

function sigManifest(layers: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(Buffer.from('{}')),
        size: 2,
      },
      layers: Array.from({ length: layers }, (_, i) => ({
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        digest: sha256(Buffer.from(String(i))),
        size: String(i).length,
        annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' },
      })),
    }),
  );
}

/** A `.sig` manifest whose layers are `payloads` (served by `serveBlobs`), each with its signature annotation. */
function sigManifestOf(layers: readonly { payload: Buffer; signature: string }[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: sha256(Buffer.from('{}')),
        size: 2,
      },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        digest: sha256(l.payload),
        size: l.payload.byteLength,
        annotations: { 'dev.cosignproject.cosign/signature': l.signature },
      })),
    }),
  );
}

/** Serves `body` at `path` as a registry serves a manifest: with its Docker-Content-Digest. */
function serveManifest(h: HostileRegistry, path: RegExp, body: Buffer, contentType: string): void {
  h.route(path, (req, res) => {
    res.writeHead(200, {
      'content-type': contentType,
      'docker-content-digest': sha256(body),
      'content-length': body.byteLength,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
}

/** Serves blobs by digest; counts the GETs of each. */
function serveBlobs(h: HostileRegistry, blobs: readonly Buffer[]): Map<string, number> {
  const byDigest = new Map(blobs.map((b) => [sha256(b), b]));
  const gets = new Map<string, number>();
  h.route(new RegExp(`^GET /v2/${h.repository}/blobs/sha256:`), (req, res) => {
    const digest = (req.url ?? '').split('/blobs/')[1] ?? '';
    const blob = byDigest.get(digest);
    if (blob === undefined) {
      sendJson(res, 404, { errors: [{ code: 'BLOB_UNKNOWN' }] });
      return;
    }
    gets.set(digest, (gets.get(digest) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.byteLength });
    res.end(blob);
  });
  return gets;
}

/** A real key pair, and a cosign signature layer for the hostile image made with it. */
const signer = testKey();
const signerAuthority: Authority = {
  kind: 'key',
  name: 'signer',
  publicKey: createPublicKey(signer.publicKeyPem),
  requireTransparencyLog: false,
};
function validSignature(h: HostileRegistry): { payload: Buffer; signature: string } {
  const layer = signatureLayer(signer, `${h.address}/${h.repository}`, h.digest as Digest);
  return {
    payload: Buffer.from(layer.payload),
    signature: layer.annotations['dev.cosignproject.cosign/signature'] ?? '',
  };
}
const junkSignature = (i: number): { payload: Buffer; signature: string } => ({
  payload: Buffer.from(`junk ${String(i)}`),
  signature: 'MEUCIQ==',
});

function expectDefinite(o: Outcome, authority: Authority, reason: string): void {
  expect(o.evidence.complete, 'evidence complete').to.equal(true);
  const check = checkImageSignatures(o.evidence, [authority], new Date());
  expect(check.verdict, 'signature verdict').to.equal('NonCompliant');
  expect(check.verdict === 'NonCompliant' ? check.reasons : []).to.deep.equal([reason]);
}

function descriptors(n: number, offset = 0): object[] {
  return Array.from({ length: n }, (_, i) => ({
    mediaType: ociManifest,
    digest: sha256(Buffer.from(`r${String(i + offset)}`)),
    size: 100,
    artifactType: 'application/vnd.example+json',
  }));
}

/** A cosign signature referrer of the hostile image (cosign's OCI 1.1 mode) holding `layers`. */
function sigReferrerOf(
  h: HostileRegistry,
  layers: readonly { payload: Buffer; signature: string }[],
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: ociManifest,
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256(Buffer.from('{}')), size: 2 },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
        digest: sha256(l.payload),
        size: l.payload.byteLength,
        annotations: { 'dev.cosignproject.cosign/signature': l.signature },
      })),
      subject: { mediaType: ociManifest, digest: h.digest, size: h.manifest.byteLength },
    }),
  );
}

/** Serves `referrers` (manifests) as the referrers listing of the hostile image, after `delayMs`. */
function serveReferrers(h: HostileRegistry, referrers: readonly Buffer[], delayMs = 0): void {
  h.route(referrersPath(h), async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const manifests = referrers.map((r) => ({
      mediaType: ociManifest,
      digest: sha256(r),
      size: r.byteLength,
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    }));
    sendJson(res, 200, { schemaVersion: 2, mediaType: ociIndex, manifests }, ociIndex);
  });
  for (const r of referrers)
    serveManifest(h, new RegExp(`^(GET|HEAD) /v2/${h.repository}/manifests/${sha256(r)}$`), r, ociManifest);
}

describe('registry: hostile registries', function () {
  this.timeout(30_000);
  let h: HostileRegistry;

  beforeEach(async () => {
    h = await startHostileRegistry();
  });
  afterEach(async () => {
    await h.close();
  });

  it('baseline: the well-behaved default is complete and empty', async () => {
    const o = await collectFrom(h);
    expect(o.evidence.complete).to.equal(true);
    expect(o.evidence.imageSeen).to.equal(true);
  });

  it('review 2 (finding 3): a .sig body streamed (200) past the 4 MiB manifest cap → Unknown: registries store no such manifest, so it is not their answer', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': ociManifest });
      // No Content-Length: the cap must hold while streaming.
      const chunk = Buffer.alloc(1 << 20, 0x20);
      for (let i = 0; i < 8; i++) res.write(chunk);
      res.end('{}');
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });

  it('review 2 (finding 3): a 200 page declaring a Content-Length over the cap, then reset → Unknown, whatever the header claims', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': 5 << 20 });
      res.write('<html>', () => res.destroy());
    });
    const o = await collectFrom(h);
    expectSafe(o);
  });

  it('an oversized manifest body cut off by a connection reset → Unknown (it never arrived)', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': ociManifest, 'content-length': 3 << 20 });
      res.write(Buffer.alloc(1 << 20, 0x20), () => res.destroy());
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('RegistryUnavailable');
  });

  it('an oversized manifest body on a 500 → Unknown', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(500, { 'content-type': ociManifest });
      res.end(Buffer.alloc(5 << 20, 0x20));
    });
    const o = await collectFrom(h);
    expectSafe(o);
  });

  it('manifest whose content does not match the digest asked for → EvidenceIncomplete', async () => {
    h.route(new RegExp(`^GET /v2/${h.repository}/referrers/`), (_req, res) => {
      sendJson(
        res,
        200,
        {
          schemaVersion: 2,
          mediaType: ociIndex,
          manifests: [
            {
              mediaType: ociManifest,
              digest: sha256(Buffer.from('x')),
              size: 1,
              artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
            },
          ],
        },
        ociIndex,
      );
    });
    h.route(/^GET \/v2\/.*\/manifests\/sha256:/, (_req, res) => {
      sendJson(res, 200, { schemaVersion: 2, mediaType: ociManifest, config: {}, layers: [] }, ociManifest);
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'referrers')).to.equal('EvidenceIncomplete');
  });

  it('lying Docker-Content-Digest on a tag → EvidenceIncomplete', async () => {
    h.route(sigPath(h), (_req, res) => {
      const body = sigManifest(1);
      res.writeHead(200, {
        'content-type': ociManifest,
        'docker-content-digest': sha256(Buffer.from('lie')),
      });
      res.end(body);
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });

  it('endless redirect → EvidenceIncomplete', async () => {
    h.route(sigPath(h), (req, res) => {
      res.writeHead(307, { location: `${req.url ?? ''}?again=${String(Math.random())}` });
      res.end();
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });

  it('redirect to 169.254.169.254 → RegistryUnavailable, without connecting there', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
      res.end();
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('RegistryUnavailable');
    expect(o.evidence.sources.find((s) => s.item === 'sig')?.message).to.contain('link-local');
  });

  it('slow drip → RegistryUnavailable within the request deadline', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': ociManifest });
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => {
        clearInterval(t);
      });
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('RegistryUnavailable');
  });

  it('500s on referrers while .sig is 404 → RegistryUnavailable, incomplete', async () => {
    h.route(referrersPath(h), (_req, res) => {
      sendJson(res, 500, { errors: [{ code: 'UNKNOWN' }] });
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(o.evidence.sources.find((s) => s.item === 'sig')?.outcome).to.equal('absent');
    expect(reasonOf(o.evidence, 'referrers')).to.equal('RegistryUnavailable');
  });

  it('429 with Retry-After: 86400 → RateLimited at once, no day-long wait', async () => {
    h.route(/^GET /, (_req, res) => {
      res.writeHead(429, { 'retry-after': '86400' });
      res.end();
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(o.elapsedMs).to.be.below(2_000);
    expect(reasonOf(o.evidence, 'sig')).to.equal('RateLimited');
  });

  it('401 then a token from the realm → complete', async () => {
    h.route(/^GET \/token/, (_req, res) => {
      sendJson(res, 200, { token: 'sekrit', expires_in: 300 });
    });
    h.route(/^(GET|HEAD) \/v2\//, (req, res) => {
      if (req.headers.authorization === 'Bearer sekrit') {
        h.serveDefault(req, res);
        return;
      }
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="http://${h.address}/token",service="hostile",scope="repository:${h.repository}:pull"`,
      });
      res.end();
    });
    const o = await collectFrom(h);
    expect(o.evidence.complete).to.equal(true);
    expect(h.seen.filter((s) => s.url.startsWith('/token'))).to.have.lengthOf(1);
  });

  it('token realm on another host over plain HTTP → no credentials sent, RegistryUnauthorized', async () => {
    const tokenServer = await startTokenServer();
    try {
      h.route(/^(GET|HEAD) \/v2\//, (_req, res) => {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://localhost:${String(tokenServer.port)}/token",service="hostile"`,
        });
        res.end();
      });
      const creds = parseDockerConfig(
        JSON.stringify({ auths: { [h.address]: { username: 'u', password: 'p' } } }),
      );
      const client = new RegistryClient({ plainHttpRegistries: [h.address], limits, credentials: creds });
      try {
        const o = await collectFrom(h, client);
        expectSafe(o);
        expect(reasonOf(o.evidence, 'sig')).to.equal('RegistryUnauthorized');
        expect(o.evidence.sources.find((s) => s.item === 'sig')?.message).to.contain('credentials withheld');
        expect(tokenServer.authorizations.length).to.be.above(0);
        expect(tokenServer.authorizations.every((a) => a === undefined)).to.equal(true);
      } finally {
        await client.close();
      }
    } finally {
      await tokenServer.close();
    }
  });

  it('image manifest 404 while .sig is 404 → incomplete (the image was never seen)', async () => {
    h.route(/^HEAD \/v2\/.*\/manifests\/sha256:/, (_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(o.evidence.imageSeen).to.equal(false);
    expect(o.evidence.sources.find((s) => s.item === 'sig')?.outcome).to.equal('absent');
  });

  it('referrers page 2 failing → incomplete, never a partial list', async () => {
    h.route(referrersPath(h), (req, res) => {
      if ((req.url ?? '').includes('page=2')) {
        sendJson(res, 500, { errors: [] });
        return;
      }
      res.setHeader('link', `<${req.url ?? ''}?page=2>; rel="next"`);
      sendJson(res, 200, { schemaVersion: 2, mediaType: ociIndex, manifests: descriptors(3) }, ociIndex);
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'referrers')).to.equal('RegistryUnavailable');
  });

  it('JSON nested 100,000 levels → EvidenceIncomplete, no stack overflow', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': ociManifest });
      res.end('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000));
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });

  it('a gzip bomb is never inflated → EvidenceIncomplete', async () => {
    const bomb = gzipSync(Buffer.alloc(512 << 20));
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, {
        'content-type': ociManifest,
        'content-encoding': 'gzip',
        'content-length': bomb.byteLength,
      });
      res.end(bomb);
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });

  describe('finding 3: content served completely is a definite answer', () => {
    it('finding 3: an image index pushed at the .sig tag → NonCompliant SignatureInvalid, not Unknown', async () => {
      const index = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests: descriptors(2) }),
      );
      serveManifest(
        h,
        new RegExp(`^(GET|HEAD) /v2/${h.repository}/manifests/sha256-[a-f0-9]{64}\\.sig$`),
        index,
        ociIndex,
      );
      const o = await collectFrom(h);
      expectDefinite(o, anyKey, 'SignatureInvalid');
      expect(o.evidence.sources.find((s) => s.item === 'sig')?.invalid).to.contain('index');
      // A HEAD-first refresh keeps the same definite answer without a GET of the tag.
      const client = new RegistryClient({ plainHttpRegistries: [h.address], limits });
      try {
        const first = await collectFrom(h, client);
        const before = h.seen.length;
        const again = await collectFrom(h, client, { previous: first.evidence });
        expectDefinite(again, anyKey, 'SignatureInvalid');
        expect(
          h.seen.slice(before).filter((r) => r.method === 'GET' && r.url.endsWith('.sig')),
        ).to.have.lengthOf(0);
      } finally {
        await client.close();
      }
    });

    it('finding 3: a manifest of an unknown media type at the .sig tag, served with its digest → SignatureInvalid', async () => {
      const odd = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.example.thing+json' }),
      );
      serveManifest(h, sigPath(h), odd, 'application/vnd.example.thing+json');
      const o = await collectFrom(h);
      expectDefinite(o, anyKey, 'SignatureInvalid');
    });

    it('finding 3: an image index at the .att tag → AttestationInvalid, not Unknown', async () => {
      const index = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests: descriptors(1) }),
      );
      serveManifest(
        h,
        new RegExp(`^GET /v2/${h.repository}/manifests/sha256-[a-f0-9]{64}\\.att$`),
        index,
        ociIndex,
      );
      const o = await collectFrom(h);
      expect(o.evidence.complete).to.equal(true);
      const check = checkAttestation(o.evidence, [], [], 'slsaprovenance');
      expect(check.verdict).to.equal('NonCompliant');
      expect(check.verdict === 'NonCompliant' ? check.reasons : []).to.deep.equal(['AttestationInvalid']);
    });

    it('finding 3: 101 junk signatures → NonCompliant EvidenceLimitExceeded; only the newest 100 are fetched', async () => {
      const layers = Array.from({ length: 101 }, (_, i) => junkSignature(i));
      const gets = serveBlobs(
        h,
        layers.map((l) => l.payload),
      );
      serveManifest(h, sigPath(h), sigManifestOf(layers), ociManifest);
      const o = await collectFrom(h);
      expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
      expect(o.evidence.limitExceeded).to.equal(true);
      expect(o.evidence.sources.find((s) => s.item === 'sig')?.omitted).to.equal(1);
      expect(gets.has(sha256(layers[0]?.payload ?? Buffer.alloc(0)))).to.equal(false);
      expect(gets.size).to.equal(100);
    });

    it('finding 3: 200 layers (over the 128-layer manifest cap) whose newest is valid → Compliant', async () => {
      const layers = [...Array.from({ length: 199 }, (_, i) => junkSignature(i)), validSignature(h)];
      serveBlobs(
        h,
        layers.map((l) => l.payload),
      );
      serveManifest(h, sigPath(h), sigManifestOf(layers), ociManifest);
      const o = await collectFrom(h);
      expect(o.evidence.complete).to.equal(true);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('finding 3: a referrers index with 10,000 entries, none a signature → NonCompliant EvidenceLimitExceeded', async () => {
      h.route(referrersPath(h), (_req, res) => {
        sendJson(
          res,
          200,
          { schemaVersion: 2, mediaType: ociIndex, manifests: descriptors(10_000) },
          ociIndex,
        );
      });
      const o = await collectFrom(h);
      expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
      expect(o.evidence.sources.find((s) => s.item === 'referrers')?.omitted).to.equal(9_000);
    });

    it('finding 3: a signature blob that fails to arrive is still Unknown (only served content is definite)', async () => {
      const layers = [validSignature(h)];
      h.route(new RegExp(`^GET /v2/${h.repository}/blobs/`), (_req, res) => {
        sendJson(res, 503, { errors: [{ code: 'UNAVAILABLE' }] });
      });
      serveManifest(h, sigPath(h), sigManifestOf(layers), ociManifest);
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'sig')).to.equal('RegistryUnavailable');
    });
  });

  describe('finding 5: one byte budget per source', () => {
    /** 100 layers of the same 12 MiB blob (one buffer on the server side), optionally with a valid signature last. */
    function bigSig(withValid: boolean): Map<string, number> {
      const big = { payload: Buffer.alloc(12 << 20, 0x61), signature: 'MEUCIQ==' };
      const layers = [
        ...Array.from({ length: withValid ? 99 : 100 }, () => big),
        ...(withValid ? [validSignature(h)] : []),
      ];
      const gets = serveBlobs(h, [big.payload, ...layers.slice(-1).map((l) => l.payload)]);
      serveManifest(h, sigPath(h), sigManifestOf(layers), ociManifest);
      return gets;
    }

    it('finding 5: 100 × 12 MiB layers → bounded RSS, at most the budget fetched, NonCompliant EvidenceLimitExceeded', async () => {
      const gets = bigSig(false);
      const o = await collectFrom(h);
      expect(o.rssGrowthBytes, 'RSS growth').to.be.below(64 << 20);
      expect(o.elapsedMs, 'elapsed ms').to.be.below(perDigestLimitMs + 1_000);
      expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
      // The default budget (16 MiB) holds one 12 MiB layer.
      expect([...gets.values()].reduce((a, b) => a + b, 0)).to.equal(1);
      expect(o.evidence.sources.find((s) => s.item === 'sig')?.omitted).to.equal(99);
    });

    it('finding 5: a valid newest signature after 99 × 12 MiB layers → Compliant within the budget', async () => {
      bigSig(true);
      const o = await collectFrom(h);
      expect(o.rssGrowthBytes, 'RSS growth').to.be.below(64 << 20);
      expect(o.evidence.complete).to.equal(true);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('finding 5: the budget is configurable (maxEvidenceBytes)', async () => {
      const gets = bigSig(false);
      const client = new RegistryClient({
        plainHttpRegistries: [h.address],
        limits: { ...limits, maxEvidenceBytes: 40 << 20 },
      });
      try {
        const o = await collectFrom(h, client);
        expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
        expect([...gets.values()].reduce((a, b) => a + b, 0)).to.equal(3);
      } finally {
        await client.close();
      }
    });

    it('review (finding 5): a 16 MiB junk layer at the .att tag does not crowd out a valid signature referrer → Compliant', async () => {
      const junk = Buffer.alloc(16 << 20, 0x62);
      const valid = validSignature(h);
      serveBlobs(h, [junk, valid.payload]);
      const att = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: ociManifest,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: sha256(Buffer.from('{}')),
            size: 2,
          },
          layers: [
            {
              mediaType: 'application/vnd.dsse.envelope.v1+json',
              digest: sha256(junk),
              size: junk.byteLength,
            },
          ],
        }),
      );
      serveManifest(
        h,
        new RegExp(`^GET /v2/${h.repository}/manifests/sha256-[a-f0-9]{64}\\.att$`),
        att,
        ociManifest,
      );
      // The listing answers late, so the .att layer is sized up first.
      serveReferrers(h, [sigReferrerOf(h, [valid])], 300);
      const o = await collectFrom(h);
      expect(o.rssGrowthBytes, 'RSS growth').to.be.below(64 << 20);
      expect(o.evidence.complete).to.equal(true);
      expect(o.evidence.signatures).to.have.lengthOf(1);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('review 2 (finding 5): a junk referrer with a near-budget layer, listed first, does not crowd out a valid signature referrer of the same listing → Compliant', async () => {
      const valid = validSignature(h);
      const validReferrer = sigReferrerOf(h, [valid]);
      // The junk layer takes all that the two manifests leave of the 16 MiB budget, bar a few bytes.
      const sized = (n: number): Buffer =>
        sigReferrerOf(h, [{ payload: Buffer.alloc(n, 0x63), signature: 'MEUCIQ==' }]);
      const rest = (16 << 20) - sized(16 << 20).byteLength - validReferrer.byteLength - 8;
      const junk = { payload: Buffer.alloc(rest, 0x63), signature: 'MEUCIQ==' };
      serveBlobs(h, [junk.payload, valid.payload]);
      // The valid referrer's manifest answers last, as a slow or distant one would.
      h.route(
        new RegExp(`^GET /v2/${h.repository}/manifests/${sha256(validReferrer)}$`),
        async (_req, res) => {
          await new Promise((resolve) => setTimeout(resolve, 300));
          res.writeHead(200, { 'content-type': ociManifest, 'content-length': validReferrer.byteLength });
          res.end(validReferrer);
        },
      );
      serveReferrers(h, [sigReferrerOf(h, [junk]), validReferrer]);
      const o = await collectFrom(h);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('review (finding 5): a 16 MiB junk .sig in the image repository does not crowd out a valid .sig in source.repository → Compliant', async () => {
      const junk = { payload: Buffer.alloc(16 << 20, 0x63), signature: 'MEUCIQ==' };
      const valid = validSignature(h);
      serveBlobs(h, [junk.payload]);
      serveManifest(h, sigPath(h), sigManifestOf([junk]), ociManifest);
      const sigs = 'hostile/signatures';
      const validManifest = sigManifestOf([valid]);
      h.route(new RegExp(`^GET /v2/${sigs}/manifests/sha256-[a-f0-9]{64}\\.sig$`), async (_req, res) => {
        await new Promise((resolve) => setTimeout(resolve, 300)); // after the junk layer is sized up
        res.writeHead(200, {
          'content-type': ociManifest,
          'docker-content-digest': sha256(validManifest),
          'content-length': validManifest.byteLength,
        });
        res.end(validManifest);
      });
      h.route(new RegExp(`^GET /v2/${sigs}/blobs/${sha256(valid.payload)}$`), (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(valid.payload);
      });
      const o = await collectFrom(h, undefined, {
        extraRepositories: [{ registry: h.address, repository: sigs }],
      });
      expect(o.evidence.complete).to.equal(true);
      expect(o.evidence.signatures.filter((x) => x.repository === `${h.address}/${sigs}`)).to.have.lengthOf(
        1,
      );
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });
  });

  describe('review (finding 3): a referrers listing served over its limits is a definite answer', () => {
    it('review (finding 3): 30,000 referrers (a 6 MB listing) on an unsigned image → NonCompliant EvidenceLimitExceeded', async () => {
      h.route(referrersPath(h), (_req, res) => {
        sendJson(
          res,
          200,
          { schemaVersion: 2, mediaType: ociIndex, manifests: descriptors(30_000) },
          ociIndex,
        );
      });
      const o = await collectFrom(h);
      expect(o.rssGrowthBytes, 'RSS growth').to.be.below(64 << 20);
      expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
      expect(o.evidence.sources.find((s) => s.item === 'referrers')?.omitted).to.equal(29_000);
    });

    it('review 2 (finding 3): referrers with 9 MiB annotations (streamed past the listing cap) → Unknown, never a definite answer that hides the valid referrers the page lists', async () => {
      const huge = 'A'.repeat(9 << 20);
      h.route(referrersPath(h), (_req, res) => {
        res.writeHead(200, { 'content-type': ociIndex }); // no Content-Length: cut while streaming
        const manifests = descriptors(2).map((d) => ({ ...d, annotations: { note: huge } }));
        res.end(JSON.stringify({ schemaVersion: 2, mediaType: ociIndex, manifests }));
      });
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'referrers')).to.equal('EvidenceIncomplete');
    });

    /** A listing of endless pages of one entry each; `first` is page 1's entries. */
    function endlessPages(first: object[]): void {
      h.route(referrersPath(h), (req, res) => {
        const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('page') ?? '1');
        res.setHeader(
          'link',
          `</v2/${h.repository}/referrers/${h.digest}?page=${String(n + 1)}>; rel="next"`,
        );
        const manifests = n === 1 ? first : descriptors(1, n);
        sendJson(res, 200, { schemaVersion: 2, mediaType: ociIndex, manifests }, ociIndex);
      });
    }

    it('review (finding 3): a listing of more than 20 pages → NonCompliant EvidenceLimitExceeded after 20 pages', async () => {
      endlessPages(descriptors(1));
      const o = await collectFrom(h);
      expectDefinite(o, anyKey, 'EvidenceLimitExceeded');
      expect(h.seen.filter((r) => r.url.includes('/referrers/'))).to.have.lengthOf(20);
      expect(o.evidence.sources.find((s) => s.item === 'referrers')?.omitted).to.equal(1);
    });

    it('review (finding 3): a valid signature referrer on the first page of an endless listing → Compliant', async () => {
      const valid = validSignature(h);
      serveBlobs(h, [valid.payload]);
      const referrer = sigReferrerOf(h, [valid]);
      serveManifest(
        h,
        new RegExp(`^GET /v2/${h.repository}/manifests/${sha256(referrer)}$`),
        referrer,
        ociManifest,
      );
      endlessPages([
        {
          mediaType: ociManifest,
          digest: sha256(referrer),
          size: referrer.byteLength,
          artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        },
      ]);
      const o = await collectFrom(h);
      expect(o.evidence.complete).to.equal(true);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('review 2 (finding 5): referrers listed with an inflated size give the unused budget back, so a valid signature listed after them is judged', async () => {
      const valid = validSignature(h);
      serveBlobs(h, [valid.payload]);
      const referrer = sigReferrerOf(h, [valid]);
      const junk = sigReferrerOf(h, []);
      for (const body of [referrer, junk])
        serveManifest(
          h,
          new RegExp(`^GET /v2/${h.repository}/manifests/${sha256(body)}$`),
          body,
          ociManifest,
        );
      const sigType = 'application/vnd.dev.cosign.artifact.sig.v1+json';
      // Four entries claiming 4 MiB each reserve the whole 16 MiB budget before the fifth is looked at.
      const inflated = { mediaType: ociManifest, digest: sha256(junk), size: 4 << 20, artifactType: sigType };
      const honest = {
        mediaType: ociManifest,
        digest: sha256(referrer),
        size: referrer.byteLength,
        artifactType: sigType,
      };
      h.route(referrersPath(h), (_req, res) => {
        sendJson(
          res,
          200,
          {
            schemaVersion: 2,
            mediaType: ociIndex,
            manifests: [inflated, inflated, inflated, inflated, honest],
          },
          ociIndex,
        );
      });
      const o = await collectFrom(h);
      expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    });

    it('review 2 (finding 3): a sha256-<hex> fallback tag over the 4 MiB manifest cap → Unknown', async () => {
      h.route(new RegExp(`^GET /v2/${h.repository}/manifests/sha256-[a-f0-9]{64}$`), (_req, res) => {
        res.writeHead(200, { 'content-type': ociIndex });
        res.end(Buffer.alloc(5 << 20, 0x20));
      });
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'referrers')).to.equal('EvidenceIncomplete');
    });

    it('review (finding 3): a listing cut off by a connection reset stays Unknown', async () => {
      h.route(referrersPath(h), (_req, res) => {
        res.writeHead(200, { 'content-type': ociIndex });
        res.write(Buffer.alloc(5 << 20, 0x20), () => res.destroy());
      });
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'referrers')).to.equal('RegistryUnavailable');
    });
  });

  describe('finding 2: only the registry\'s own "not found" means absent', () => {
    it('finding 2: an HTML 404 at the .sig tag (an ingress default backend) → EvidenceIncomplete, not SignatureMissing', async () => {
      h.route(sigPath(h), (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<html><body><h1>404 Not Found</h1>nginx</body></html>');
      });
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
      expect(o.evidence.sources.find((s) => s.item === 'sig')?.message).to.contain(h.repository);
    });

    it('finding 2: an HTML 404 from a signature repository (source.repository) → EvidenceIncomplete', async () => {
      const sigRepo: Repository = { registry: h.address, repository: 'hostile/signatures' };
      h.route(/^(GET|HEAD) \/v2\/hostile\/signatures\//, (_req, res) => {
        res.writeHead(404, { 'content-type': 'text/html' });
        res.end('<html><body>default backend - 404</body></html>');
      });
      const o = await collectFrom(h, undefined, { extraRepositories: [sigRepo] });
      expectSafe(o);
      const sig = o.evidence.sources.find(
        (s) => s.item === 'sig' && s.repository.endsWith('/hostile/signatures'),
      );
      expect(sig?.outcome).to.equal('error');
      expect(sig?.reason).to.equal('EvidenceIncomplete');
    });

    it('finding 2: NAME_UNKNOWN for a signature repository that does not exist → EvidenceIncomplete naming it', async () => {
      const sigRepo: Repository = { registry: h.address, repository: 'hostile/nowhere' };
      h.route(/^(GET|HEAD) \/v2\/hostile\/nowhere\//, (_req, res) => {
        sendJson(res, 404, {
          errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }],
        });
      });
      const o = await collectFrom(h, undefined, { extraRepositories: [sigRepo] });
      expectSafe(o);
      const failed = o.evidence.sources.filter(
        (s) => s.repository === `${h.address}/hostile/nowhere` && s.outcome === 'error',
      );
      expect(failed.map((s) => s.item)).to.include('sig');
      expect(failed.every((s) => s.reason === 'EvidenceIncomplete')).to.equal(true);
      expect(failed[0]?.message).to.contain('hostile/nowhere');
    });

    it('finding 2: MANIFEST_UNKNOWN everywhere in a signature repository that answers nothing else → EvidenceIncomplete', async () => {
      const sigRepo: Repository = { registry: h.address, repository: 'hostile/ghost' };
      h.route(/^GET \/v2\/hostile\/ghost\/tags\/list/, (_req, res) => {
        sendJson(res, 404, { errors: [{ code: 'NAME_UNKNOWN', message: 'unknown repository' }] });
      });
      const o = await collectFrom(h, undefined, { extraRepositories: [sigRepo] });
      expectSafe(o);
      const sig = o.evidence.sources.find((s) => s.item === 'sig' && s.repository.endsWith('/hostile/ghost'));
      expect(sig?.reason).to.equal('EvidenceIncomplete');
    });

    it('finding 2: a signature repository that exists but holds nothing for the digest → still definitely missing', async () => {
      const sigRepo: Repository = { registry: h.address, repository: 'hostile/signatures' };
      h.route(/^GET \/v2\/hostile\/signatures\/tags\/list/, (_req, res) => {
        sendJson(res, 200, { name: 'hostile/signatures', tags: ['sha256-0000.sig'] });
      });
      const o = await collectFrom(h, undefined, { extraRepositories: [sigRepo] });
      expect(o.evidence.complete).to.equal(true);
      const check = checkImageSignatures(o.evidence, [anyKey], new Date());
      expect(check.verdict).to.equal('NonCompliant');
      expect(check.verdict === 'NonCompliant' ? check.reasons : []).to.deep.equal(['SignatureMissing']);
    });

    it('finding 3 (review): a signature repository that exists but holds nothing is probed once, not on every refresh', async () => {
      const sigRepo: Repository = { registry: h.address, repository: 'hostile/signatures' };
      h.route(/^GET \/v2\/hostile\/signatures\/tags\/list/, (_req, res) => {
        sendJson(res, 200, { name: 'hostile/signatures', tags: ['sha256-0000.sig'] });
      });
      let nowMs = Date.now();
      const client = new RegistryClient({ plainHttpRegistries: [h.address], limits, nowMs: () => nowMs });
      const probes = (): number =>
        h.seen.filter((r) => r.url.startsWith('/v2/hostile/signatures/tags/list')).length;
      try {
        const extras = { extraRepositories: [sigRepo] };
        const first = await collectFrom(h, client, extras);
        expect(probes()).to.equal(1);
        const again = await collectFrom(h, client, { ...extras, previous: first.evidence });
        expect(probes(), 'tag-list probes after a refresh').to.equal(1);
        expect(again.evidence.complete).to.equal(true);
        const check = checkImageSignatures(again.evidence, [anyKey], new Date());
        expect(check.verdict === 'NonCompliant' ? check.reasons : []).to.deep.equal(['SignatureMissing']);
        // The memory lapses after an hour: then the repository is asked again.
        nowMs += 60 * 60 * 1000 + 1;
        await collectFrom(h, client, { ...extras, previous: again.evidence });
        expect(probes()).to.equal(2);
      } finally {
        await client.close();
      }
    });

    it('finding 2: the HEAD-first refresh still concludes absence from empty-bodied HEAD 404s, at no extra request', async () => {
      const client = new RegistryClient({ plainHttpRegistries: [h.address], limits });
      try {
        const first = await collectFrom(h, client);
        expect(first.evidence.complete).to.equal(true);
        const before = h.seen.length;
        const again = await collectFrom(h, client, { previous: first.evidence });
        expect(again.evidence.complete).to.equal(true);
        const refresh = h.seen.slice(before).map((s) => s.method);
        // HEAD image, HEAD .sig, HEAD .att, GET referrers (+ the .sbom GET of a full collection).
        expect(refresh.filter((m) => m === 'HEAD')).to.have.lengthOf(3);
        expect(checkImageSignatures(again.evidence, [anyKey], new Date()).verdict).to.equal('NonCompliant');
      } finally {
        await client.close();
      }
    });
  });

  describe('finding 1 (review): a page that hashes to its Docker-Content-Digest is no manifest', () => {
    /** A login page served for every /v2/ request, with the digest header a middlebox computes from the body. */
    const loginPage = Buffer.from('<html><body>Sign in to continue</body></html>');
    let headsAnswer404 = false;
    beforeEach(() => {
      headsAnswer404 = false;
      h.route(/^(GET|HEAD) \/v2\//, (req, res) => {
        if (req.method === 'HEAD' && headsAnswer404) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'content-type': 'text/html',
          'docker-content-digest': sha256(loginPage),
          'content-length': loginPage.byteLength,
        });
        res.end(req.method === 'HEAD' ? undefined : loginPage);
      });
    });

    it('finding 1 (review): an HTML 200 at .sig with a matching Docker-Content-Digest → Unknown, not SignatureInvalid', async () => {
      const o = await collectFrom(h);
      expectSafe(o);
      expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
      expect(o.evidence.sources.find((s) => s.item === 'sig')?.invalid).to.equal(undefined);
    });

    it('finding 1 (review): after such a page, an empty-bodied HEAD 404 from that host is not taken as absence', async () => {
      const client = new RegistryClient({ plainHttpRegistries: [h.address], limits });
      try {
        const first = await collectFrom(h, client);
        expect(client.answeredAsRegistry(h.address)).to.equal(false);
        headsAnswer404 = true;
        const again = await collectFrom(h, client, { previous: first.evidence });
        expectSafe(again);
        const sig = again.evidence.sources.find((s) => s.item === 'sig');
        expect(h.seen.some((s) => s.method === 'HEAD' && s.url.endsWith('.sig'))).to.equal(true);
        expect(sig?.reason).to.equal('EvidenceIncomplete');
        expect(sig?.message).to.contain('has not answered as an OCI registry');
      } finally {
        await client.close();
      }
    });
  });

  it('finding 1 (review): a login page as the tag list of a signature repository does not make it exist', async () => {
    const sigRepo: Repository = { registry: h.address, repository: 'hostile/signatures' };
    h.route(/^GET \/v2\/hostile\/signatures\/tags\/list/, (_req, res) => {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<html><body>Sign in to continue</body></html>');
    });
    const o = await collectFrom(h, undefined, { extraRepositories: [sigRepo] });
    expectSafe(o);
    const sig = o.evidence.sources.find(
      (s) => s.item === 'sig' && s.repository.endsWith('/hostile/signatures'),
    );
    expect(sig?.outcome).to.equal('error');
    expect(h.seen.some((r) => r.url.startsWith('/v2/hostile/signatures/tags/list'))).to.equal(true);
  });

  it('an HTML 200 page where a manifest belongs → EvidenceIncomplete', async () => {
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Sign in to continue</body></html>');
    });
    const o = await collectFrom(h);
    expectSafe(o);
    expect(reasonOf(o.evidence, 'sig')).to.equal('EvidenceIncomplete');
  });
});

describe('registry: hostile registries, Link pagination', function () {
  this.timeout(30_000);
  let h: HostileRegistry;
  let other: Awaited<ReturnType<typeof startTokenServer>>;
  let client: RegistryClient;

  beforeEach(async () => {
    h = await startHostileRegistry();
    other = await startTokenServer();
    // Basic credentials for the registry, so every request after the first challenge carries Authorization.
    h.route(/^(GET|HEAD) \/v2\//, (req, res) => {
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"' });
        res.end();
        return;
      }
      pages(req, res);
    });
    const credentials = parseDockerConfig(
      JSON.stringify({ auths: { [h.address]: { username: 'u', password: 'p' } } }),
    );
    client = new RegistryClient({ plainHttpRegistries: [h.address], limits, credentials });
  });
  afterEach(async () => {
    await client.close();
    await other.close();
    await h.close();
  });

  /** Where page 1 of the referrers and of the tag list points next (from its path); page 2 is served here too. */
  let nextLinkTo: (path: string) => string;
  const pages = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const isReferrers = url.includes('/referrers/');
    const isTags = url.includes('/tags/list');
    if (!isReferrers && !isTags) {
      h.serveDefault(req, res);
      return;
    }
    const path = url.split('?')[0] ?? '';
    if (!url.includes('page=2')) res.setHeader('link', `<${nextLinkTo(path)}>; rel="next"`);
    if (isTags) sendJson(res, 200, { name: h.repository, tags: [url.includes('page=2') ? 'b' : 'a'] });
    else sendJson(res, 200, { schemaVersion: 2, mediaType: ociIndex, manifests: [] }, ociIndex);
  };

  it('finding 7: a Link to another origin (another loopback port) is not followed and makes referrers Unknown; nothing reaches that server', async () => {
    nextLinkTo = (path) => `http://127.0.0.1:${String(other.port)}${path}?page=2`;
    const o = await collectFrom(h, client);
    expect(reasonOf(o.evidence, 'referrers')).to.equal('RegistryUnavailable');
    expect(o.evidence.sources.find((s) => s.item === 'referrers')?.message).to.contain('another origin');
    expect(o.evidence.complete).to.equal(false);
    expect(checkImageSignatures(o.evidence, [anyKey], new Date()).verdict).to.equal('Unknown');
    // The registry's own requests did carry the Basic credentials that must not travel.
    expect(h.seen.some((s) => s.authorization?.startsWith('Basic ') === true)).to.equal(true);
    expect(other.authorizations).to.deep.equal([]);
  });

  it('finding 7: a tag-list Link to another scheme, host or port is refused (RedirectRefused), nothing reaches that server', async () => {
    const targets = [
      (path: string) => `http://127.0.0.1:${String(other.port)}${path}?page=2`,
      (path: string) => `http://localhost:${String(other.port)}${path}?page=2`,
      (path: string) => `https://${h.address}${path}?page=2`,
      (path: string) => `http://localhost:${h.address.split(':')[1] ?? ''}${path}?page=2`,
      () => 'file:///etc/passwd',
    ];
    for (const target of targets) {
      nextLinkTo = target;
      const error: unknown = await client
        .listTags({ registry: h.address, repository: h.repository }, AbortSignal.timeout(10_000))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error, target('/v2/x/tags/list')).to.be.instanceOf(RegistryError);
      expect((error as RegistryError).code).to.equal('RedirectRefused');
    }
    expect(other.authorizations).to.deep.equal([]);
  });

  it("finding 7: a Link on the registry's own origin is followed, with its credentials", async () => {
    nextLinkTo = (path) => `http://${h.address}${path}?page=2`;
    const tags = await client.listTags(
      { registry: h.address, repository: h.repository },
      AbortSignal.timeout(10_000),
    );
    expect(tags).to.deep.equal(['a', 'b']);
    const page2 = h.seen.find((s) => s.url.includes('/tags/list') && s.url.includes('page=2'));
    expect(page2?.authorization).to.match(/^Basic /);
  });
});

describe('registry: hostile registries, redirect downgrade', function () {
  this.timeout(30_000);

  it('finding 2 (review): an https registry redirecting to plain http is refused; no request, let alone Authorization, goes out in the clear', async () => {
    const h = await startHostileRegistry();
    const ca = await createTestCa('sigwatch-test-registry');
    const { key, cert } = await issueServerCert(ca);
    const basic = `Basic ${Buffer.from('u:p').toString('base64')}`;
    const tlsSeen: (string | undefined)[] = [];
    const tls = createHttpsServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
      tlsSeen.push(req.headers.authorization);
      if (req.headers.authorization !== basic) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="tls"' }).end();
        return;
      }
      res.writeHead(302, { location: `http://${h.address}/next${req.url ?? ''}` }).end();
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const registry = `127.0.0.1:${String((tls.address() as AddressInfo).port)}`;
    const client = new RegistryClient({
      limits,
      caCertificates: [await readFile(ca.rootCert, 'utf8')],
      credentials: parseDockerConfig(
        JSON.stringify({ auths: { [registry]: { username: 'u', password: 'p' } } }),
      ),
    });
    try {
      const error: unknown = await client
        .getManifest({ registry, repository: h.repository }, h.digest, AbortSignal.timeout(10_000))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).to.be.instanceOf(RegistryError);
      expect((error as RegistryError).code).to.equal('RedirectRefused');
      expect(tlsSeen).to.include(basic); // the credentials were in play
      expect(h.seen).to.deep.equal([]);
    } finally {
      await client.close();
      tls.closeAllConnections();
      await new Promise<void>((resolve) => {
        tls.close(() => {
          resolve();
        });
      });
      await h.close();
    }
  });
});

describe('registry: hostile registries, request metrics', function () {
  this.timeout(30_000);

  it('finding 8: exchanges are labelled by the registry asked about, never by a token realm or redirect host it names', async () => {
    const h = await startHostileRegistry();
    // A token realm and a redirect target on other loopback ports, under two spellings each time.
    const realm = await startLoopback((_req, res) => {
      sendJson(res, 200, { token: 'sekrit', expires_in: 300 });
    });
    const cdn = await startLoopback((_req, res) => {
      sendJson(res, 404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'unknown' }] });
    });
    let n = 0;
    h.route(/^(GET|HEAD) \/v2\//, (req, res) => {
      if (req.headers.authorization !== 'Bearer sekrit') {
        const host = n++ % 2 === 0 ? '127.0.0.1' : 'localhost';
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${host}:${String(realm.port)}/token/${String(n)}",service="hostile"`,
        });
        res.end();
        return;
      }
      if (sigPath(h).test(`${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}`)) {
        res.writeHead(307, { location: `http://localhost:${String(cdn.port)}/cdn/${String(n++)}` });
        res.end();
        return;
      }
      h.serveDefault(req, res);
    });
    const metrics = new OperatorMetrics();
    const observed: string[] = [];
    const client = new RegistryClient({
      plainHttpRegistries: [h.address],
      limits,
      observe: ({ registry, status, seconds }) => {
        observed.push(registry);
        metrics.recordRegistryRequest(registry, status, seconds);
      },
    });
    try {
      await collectFrom(h, client);
      expect(realm.requests, 'token requests').to.be.above(0);
      expect(cdn.requests, 'redirected requests').to.be.above(0);
      expect(observed.length).to.be.above(realm.requests + cdn.requests);
      expect([...new Set(observed)]).to.deep.equal([h.address]);
      const text = await metrics.metricsText();
      const labels = [...text.matchAll(/^sigwatch_registry_requests_total\{registry="([^"]*)"/gm)].map(
        (m) => m[1],
      );
      expect([...new Set(labels)]).to.deep.equal([h.address]);
    } finally {
      await client.close();
      await realm.close();
      await cdn.close();
      await h.close();
    }
  });
});

describe('registry: hostile registries, verification cost', () => {
  let h: HostileRegistry;

  beforeEach(async () => {
    h = await startHostileRegistry();
  });
  afterEach(async () => {
    await h.close();
  });

  it("finding 4: a valid signature plus a 4 MiB certificate annotation is judged Compliant under a key authority within mocha's default timeout", async function () {
    this.timeout(2_000); // mocha's default: the only bound on reading, parsing and judging
    const key = testKey();
    const layer = signatureLayer(key, h.repository, h.digest as Digest);
    const payload = Buffer.from(layer.payload);
    const cap = 4 << 20;
    const block = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
    const manifestWith = (certificate: string): Buffer =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: ociManifest,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: sha256(Buffer.from('{}')),
            size: 2,
          },
          layers: [
            {
              mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
              digest: sha256(payload),
              size: payload.byteLength,
              annotations: { ...layer.annotations, 'dev.sigstore.cosign/certificate': certificate },
            },
          ],
        }),
      );
    // As many PEM blocks as fit in a manifest just under the cap (each is 3 bytes longer as JSON).
    const overhead = manifestWith('').byteLength;
    const manifest = manifestWith(block.repeat(Math.floor((cap - overhead - 1) / (block.length + 3))));
    expect(manifest.byteLength)
      .to.be.below(cap)
      .and.above(cap - 1024);
    h.route(sigPath(h), (_req, res) => {
      res.writeHead(200, { 'content-type': ociManifest, 'content-length': manifest.byteLength });
      res.end(manifest);
    });
    h.route(new RegExp(`^GET /v2/${h.repository}/blobs/${sha256(payload)}$`), (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(payload);
    });
    const o = await collectFrom(h);
    expect(o.evidence.complete).to.equal(true);
    expect(o.evidence.signatures).to.have.lengthOf(1);
    const authority: Authority = {
      kind: 'key',
      name: 'release',
      publicKey: createPublicKey(key.publicKeyPem),
      requireTransparencyLog: false,
    };
    expect(checkImageSignatures(o.evidence, [authority], new Date()).verdict).to.equal('Compliant');
  });
});

describe('registry: hostile registries, manifests and annotations in the budget', function () {
  this.timeout(30_000);
  let h: HostileRegistry;

  beforeEach(async () => {
    h = await startHostileRegistry();
  });
  afterEach(async () => {
    await h.close();
  });

  it('review (finding 5): 100 signature referrers each with a 4 MiB certificate annotation → judged under a key authority, RSS bounded, annotations not kept', async () => {
    const signatures = [validSignature(h), ...Array.from({ length: 99 }, (_, i) => junkSignature(i))];
    serveBlobs(
      h,
      signatures.map((l) => l.payload),
    );
    // One shared 4 MiB certificate between a per-referrer head and tail, so the server holds no 400 MiB.
    const certificate = Buffer.alloc((4 << 20) - 4096, 0x41);
    const placeholder = 'CERTIFICATE-PLACEHOLDER';
    const referrers = signatures.map((l) => {
      const [head = '', tail = ''] = JSON.stringify({
        schemaVersion: 2,
        mediaType: ociManifest,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        config: {
          mediaType: 'application/vnd.oci.empty.v1+json',
          digest: sha256(Buffer.from('{}')),
          size: 2,
        },
        layers: [
          {
            mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
            digest: sha256(l.payload),
            size: l.payload.byteLength,
            annotations: {
              'dev.cosignproject.cosign/signature': l.signature,
              'dev.sigstore.cosign/certificate': placeholder,
            },
          },
        ],
        subject: { mediaType: ociManifest, digest: h.digest, size: h.manifest.byteLength },
      }).split(placeholder);
      const parts = [Buffer.from(head), certificate, Buffer.from(tail)];
      const hash = createHash('sha256');
      for (const p of parts) hash.update(p);
      return {
        parts,
        digest: `sha256:${hash.digest('hex')}`,
        size: parts.reduce((n, p) => n + p.byteLength, 0),
      };
    });
    const byDigest = new Map(referrers.map((r) => [r.digest, r]));
    let manifestGets = 0;
    h.route(new RegExp(`^GET /v2/${h.repository}/manifests/sha256:`), (req, res) => {
      const r = byDigest.get((req.url ?? '').split('/manifests/')[1] ?? '');
      if (r === undefined) {
        h.serveDefault(req, res);
        return;
      }
      manifestGets++;
      res.writeHead(200, { 'content-type': ociManifest, 'content-length': r.size });
      for (const p of r.parts) res.write(p);
      res.end();
    });
    h.route(referrersPath(h), (_req, res) => {
      const manifests = referrers.map((r) => ({
        mediaType: ociManifest,
        digest: r.digest,
        size: r.size,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
      }));
      sendJson(res, 200, { schemaVersion: 2, mediaType: ociIndex, manifests }, ociIndex);
    });
    const o = await collectFrom(h);
    // Four 4 MiB manifests are legitimately in flight at once (bytes, text and parsed object each: ~48 MiB), so this
    // case's bound is 96 MiB rather than the corpus' 64; before the budget covered manifests it grew by 541 MB.
    expect(o.rssGrowthBytes, 'RSS growth').to.be.below(96 << 20);
    expect(o.elapsedMs, 'elapsed ms').to.be.below(perDigestLimitMs + 1_000);
    // The referrers budget (16 MiB) holds four such manifests; the rest are over the limit, never fetched.
    expect(manifestGets).to.be.at.most(4);
    expect(o.evidence.sources.find((s) => s.item === 'referrers')?.omitted).to.be.at.least(96);
    expect(o.evidence.complete).to.equal(true);
    expect(checkImageSignatures(o.evidence, [signerAuthority], new Date()).verdict).to.equal('Compliant');
    // What the evidence store would keep: no 4 MiB certificate, each annotation at most 64 KiB and a character.
    const kept = o.evidence.signatures.flatMap((s) => Object.values(s.annotations));
    expect(Math.max(...kept.map((v) => v.length))).to.equal((64 << 10) + 1);
  });
});

async function startTokenServer(): Promise<{
  port: number;
  authorizations: (string | undefined)[];
  close: () => Promise<void>;
}> {
  const authorizations: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    res.writeHead(401);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    authorizations,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A loopback HTTP server answering every request with `handler`, counting them. */
async function startLoopback(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
  port: number;
  readonly requests: number;
  close: () => Promise<void>;
}> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
