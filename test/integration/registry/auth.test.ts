/**
 * Registry authentication over real HTTPS (a registry behind a private CA):
 * Basic credentials at a same-host token realm, the OAuth2 identity-token
 * exchange of `docker login` (config.json `identitytoken`), and its fallback.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program.js';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Digest } from '../../../src/base/digest.js';
import { RegistryClient } from '../../../src/registry/client.js';
import { parseDockerConfig, type CredentialEntry } from '../../../src/registry/credentials.js';
import { collectEvidence, type Evidence } from '../../../src/registry/evidence.js';
import { sha256 } from '../../support/hostile-registry.js';
import { createTestCa, issueServerCert, type TestCa } from '../../support/test-ca.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

const repository = 'private/app';
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(Buffer.from('{}')),
      size: 2,
    },
    layers: [],
  }),
);
const digest = sha256(manifest) as Digest;

/** The token realm: Basic alice:secret on GET, the refresh-token grant on POST (when `oauth`). */
function tokenAnswer(
  method: string,
  path: string,
  authorization: string | undefined,
  body: string,
  oauth: boolean,
): { status: number; value: unknown } | undefined {
  if (path !== '/token') return undefined;
  if (method === 'POST') {
    if (!oauth) return { status: 404, value: {} };
    const form = new URLSearchParams(body);
    const ok = form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === 'refresh-me';
    return ok
      ? { status: 200, value: { access_token: 'good', expires_in: 300 } }
      : { status: 401, value: {} };
  }
  const basic = `Basic ${Buffer.from('alice:secret').toString('base64')}`;
  // Mallory has a valid account but no rights on the repository: like Docker Hub or Harbor, the realm still
  // issues a token, which the registry then refuses.
  const other = `Basic ${Buffer.from('mallory:secret').toString('base64')}`;
  if (authorization === other) return { status: 200, value: { token: 'no-rights', expires_in: 300 } };
  return authorization === basic
    ? { status: 200, value: { token: 'good', expires_in: 300 } }
    : { status: 401, value: {} };
}

/** An HTTPS registry that wants `Bearer good`, and a token realm on the same host. */
async function startPrivateRegistry(
  ca: TestCa,
  oauth: boolean,
): Promise<{ address: string; seen: Seen[]; server: Server }> {
  const { key, cert } = await issueServerCert(ca);
  const seen: Seen[] = [];
  const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      seen.push({ method: req.method ?? '', path, authorization: req.headers.authorization, body });
      const token = tokenAnswer(req.method ?? '', path, req.headers.authorization, body, oauth);
      if (token !== undefined) {
        res.writeHead(token.status, { 'content-type': 'application/json' }).end(JSON.stringify(token.value));
        return;
      }
      if (req.headers.authorization !== 'Bearer good') {
        const realm = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/token`;
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="private"` }).end();
        return;
      }
      if (path === `/v2/${repository}/manifests/${digest}`) {
        res.writeHead(200, {
          'content-type': 'application/vnd.oci.image.manifest.v1+json',
          'docker-content-digest': digest,
        });
        res.end(req.method === 'HEAD' ? undefined : manifest);
        return;
      }
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${String((server.address() as AddressInfo).port)}`, seen, server };
}

async function collectWith(
  address: string,
  ca: TestCa,
  auth: object,
  before: readonly CredentialEntry[] = [],
): Promise<Evidence> {
  const client = new RegistryClient({
    caCertificates: [await readFile(ca.rootCert, 'utf8')],
    credentials: [...before, ...parseDockerConfig(JSON.stringify({ auths: { [address]: auth } }))],
  });
  try {
    return await collectEvidence(client, {
      image: { registry: address, repository },
      digest,
      now: new Date(),
      signal: AbortSignal.timeout(20_000),
    });
  } finally {
    await client.close();
  }
}

describe('registry: authentication over HTTPS with a private CA', function () {
  this.timeout(30_000);
  let ca: TestCa;
  const servers: Server[] = [];

  before(async () => {
    ca = await createTestCa('sigwatch-registry-ca');
  });
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it('sends Basic credentials to a same-host HTTPS token realm, once for all parallel requests', async () => {
    const r = await startPrivateRegistry(ca, false);
    servers.push(r.server);
    const ev = await collectWith(r.address, ca, { auth: Buffer.from('alice:secret').toString('base64') });
    expect(ev.complete, JSON.stringify(ev.sources)).to.equal(true);
    expect(r.seen.filter((s) => s.path === '/token')).to.have.lengthOf(1);
  });

  it("tries the next credentials when the registry refuses the token another team's valid account got", async () => {
    const r = await startPrivateRegistry(ca, false);
    servers.push(r.server);
    const mallory = parseDockerConfig(
      JSON.stringify({
        auths: { [`${r.address}/${repository}`]: { auth: Buffer.from('mallory:secret').toString('base64') } },
      }),
    );
    // Mallory's entry is more specific (a path), so it is tried first.
    const ev = await collectWith(
      r.address,
      ca,
      { auth: Buffer.from('alice:secret').toString('base64') },
      mallory,
    );
    expect(ev.complete, JSON.stringify(ev.sources)).to.equal(true);
    expect(r.seen.some((s) => s.authorization === 'Bearer no-rights')).to.equal(true);
    expect(r.seen.some((s) => s.authorization === 'Bearer good')).to.equal(true);
  });

  it('exchanges a config.json identitytoken with the OAuth2 refresh-token grant', async () => {
    const r = await startPrivateRegistry(ca, true);
    servers.push(r.server);
    const ev = await collectWith(r.address, ca, {
      auth: Buffer.from('<token>:').toString('base64'),
      identitytoken: 'refresh-me',
    });
    expect(ev.complete, JSON.stringify(ev.sources)).to.equal(true);
    const posts = r.seen.filter((s) => s.path === '/token' && s.method === 'POST');
    expect(posts).to.have.lengthOf(1);
    expect(new URLSearchParams(posts[0]?.body).get('scope')).to.equal(`repository:${repository}:pull`);
    expect(posts[0]?.authorization).to.equal(undefined);
  });

  it('falls back to the GET flow when the realm has no OAuth2 endpoint, and reports RegistryUnauthorized when refused', async () => {
    const r = await startPrivateRegistry(ca, false);
    servers.push(r.server);
    const ev = await collectWith(r.address, ca, { identitytoken: 'refresh-me' });
    expect(ev.complete).to.equal(false);
    expect(ev.sources.find((s) => s.item === 'image')?.reason).to.equal('RegistryUnauthorized');
    expect(r.seen.some((s) => s.path === '/token' && s.method === 'GET')).to.equal(true);
  });

  it('sigwatch verify trusts --registry-ca and reads --docker-config', async () => {
    const r = await startPrivateRegistry(ca, false);
    servers.push(r.server);
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-cli-'));
    const dockerConfig = join(dir, 'config.json');
    await writeFile(
      dockerConfig,
      JSON.stringify({ auths: { [r.address]: { auth: Buffer.from('alice:secret').toString('base64') } } }),
    );
    const pub = join(dir, 'k.pub');
    await writeFile(
      pub,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const run = async (extra: string[]): Promise<{ code: number; out: string }> => {
      let out = '';
      const code = await runCli(
        [
          'verify',
          '--key',
          pub,
          '--docker-config',
          dockerConfig,
          '-o',
          'json',
          ...extra,
          `${r.address}/${repository}@${digest}`,
        ],
        {
          writeOut: (t) => (out += t),
          writeErr: () => undefined,
        },
      );
      return { code, out };
    };
    // Reachable and authorised, but unsigned: a definite SignatureMissing.
    const trusted = await run(['--registry-ca', ca.rootCert]);
    expect(trusted.code, trusted.out).to.equal(1);
    expect((JSON.parse(trusted.out) as { reasons: string[] }[])[0]?.reasons).to.deep.equal([
      'SignatureMissing',
    ]);
    // Without the CA the TLS handshake fails: undecided, never "unsigned".
    expect((await run([])).code).to.equal(2);
  });

  it('refuses a registry whose certificate no trusted CA signed: RegistryUnavailable', async () => {
    const r = await startPrivateRegistry(ca, false);
    servers.push(r.server);
    const client = new RegistryClient({ limits: { maxAttempts: 1 } });
    try {
      const ev = await collectEvidence(client, {
        image: { registry: r.address, repository },
        digest,
        now: new Date(),
        signal: AbortSignal.timeout(20_000),
      });
      expect(ev.sources.find((s) => s.item === 'image')?.reason).to.equal('RegistryUnavailable');
    } finally {
      await client.close();
    }
  });
});
