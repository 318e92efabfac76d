/**
 * Finding 1 of issue 14, end to end: `sigwatch verify --policy` against the
 * test environment's registry, the image's registry spelled as a pod spec or
 * a user may spell it — upper case, or the default port `:443` — under a
 * policy written for the canonical name. Spelled so, the image used to match
 * no policy (Unmatched, exit 0); it must be judged like any other: unsigned,
 * NonCompliant, exit 1.
 *
 * The `:443` case needs an HTTPS registry on port 443: a TLS-terminating
 * relay in front of the test registry, on a random 127/8 loopback address
 * (so parallel runs do not collide), with a certificate from a test CA.
 */
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { runCli } from '../../../src/cli/program.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { createTestCa, issueServerCert, type TestCa } from '../../support/test-ca.js';
import { testEnv } from '../../support/testenv.js';

interface Printed {
  readonly image: string;
  readonly verdict: string;
  readonly reasons: readonly string[];
}

/** A TLS relay on `host:443` to the plain-HTTP registry at `target` (`host:port`). */
async function startTlsRelay(host: string, target: string, ca: TestCa): Promise<Server> {
  const { key, cert } = await issueServerCert(ca, [host]);
  const { hostname, port } = new URL(`tcp://${target}`);
  const sockets = new Set<Socket>();
  const server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, host, resolve);
  });
  return server;
}

describe('verify --policy: finding 1, spelling the registry differently does not step around a policy', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: TestCa;
  let unsigned: PushedImage;
  let repo: string;
  let publicKey: string;
  let relay: Server | undefined;
  /** The relay's loopback address, listening on 443. */
  let host = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-canonical-'));
    ca = await createTestCa('sigwatch-registry-ca');
    repo = randomRepo('canonical');
    unsigned = await pushRandomImage(testEnv().registry, repo);
    publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    for (let attempt = 0; relay === undefined; attempt++) {
      host = `127.${String(randomInt(1, 255))}.${String(randomInt(0, 256))}.${String(randomInt(1, 255))}`;
      try {
        relay = await startTlsRelay(host, testEnv().registry, ca);
      } catch (error: unknown) {
        if (attempt >= 4) throw error; // another run holds this address's 443: try another address
      }
    }
  });

  after(async () => {
    const server = relay;
    if (server !== undefined)
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    await rm(dir, { recursive: true, force: true });
    await rm(ca.dir, { recursive: true, force: true });
  });

  /** Runs `sigwatch verify --policy` with one policy for `glob`, signed by a key nothing signed with. */
  async function verify(
    glob: string,
    image: string,
    extra: string[],
  ): Promise<{ code: number; results: Printed[]; stderr: string }> {
    const policy = join(dir, `policy-${String(randomInt(1e9))}.yaml`);
    await writeFile(
      policy,
      stringify({
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImagePolicy',
        metadata: { name: 'canonical' },
        spec: { match: { images: [glob] }, authorities: [{ name: 'release', key: { publicKey } }] },
      }),
    );
    let out = '';
    let err = '';
    const code = await runCli(['verify', '--policy', policy, '-o', 'json', ...extra, image], {
      writeOut: (t) => (out += t),
      writeErr: (t) => (err += t),
    });
    return { code, results: out === '' ? [] : (JSON.parse(out) as Printed[]), stderr: err };
  }

  it('finding 1: an unsigned image behind an upper-cased registry host is NonCompliant under a policy for the lower-case host (exit 1)', async () => {
    const port = new URL(`tcp://${testEnv().registry}`).port;
    const run = await verify(`localhost:${port}/**`, `LOCALHOST:${port}/${repo}@${unsigned.digest}`, [
      // The user's plain-HTTP list is matched by canonical name as well.
      '--insecure-registry',
      `LocalHost:${port}`,
    ]);
    expect(run.code, JSON.stringify(run.results)).to.equal(1);
    expect(run.results[0], run.stderr).to.deep.include({
      image: `localhost:${port}/${repo}@${unsigned.digest}`,
      verdict: 'NonCompliant',
      reasons: ['SignatureMissing'],
    });
  });

  it('finding 1: an unsigned image named with the default port :443 is NonCompliant under a policy without it (exit 1)', async () => {
    const run = await verify(`${host}/**`, `${host}:443/${repo}@${unsigned.digest}`, [
      '--registry-ca',
      ca.rootCert,
    ]);
    expect(run.code, JSON.stringify(run.results)).to.equal(1);
    expect(run.results[0], run.stderr).to.deep.include({
      image: `${host}/${repo}@${unsigned.digest}`,
      verdict: 'NonCompliant',
      reasons: ['SignatureMissing'],
    });
  });
});
