import { expect } from 'chai';
import { mkdtempSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Agent, RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KubeConnectionError,
  loadInCluster,
  loadKubeConnection,
  type KubeConnection,
} from '../../../../src/operator/kube/connection.js';

const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
const caPem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';

async function authorized(c: KubeConnection, headers: Record<string, string> = {}): Promise<RequestOptions> {
  const o: RequestOptions = { headers };
  await c.authorize(o);
  return o;
}

/** The Authorization header, whichever case the connection spelled it in. */
async function bearer(c: KubeConnection): Promise<unknown> {
  const headers = Object.entries((await authorized(c)).headers as Record<string, unknown>);
  return headers.find(([k]) => k.toLowerCase() === 'authorization')?.[1];
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error: unknown) {
    if (error instanceof KubeConnectionError) return error.code;
    throw error;
  }
  return 'resolved';
}

describe('operator in-cluster connection', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigwatch-sa-'));
    writeFileSync(join(dir, 'token'), 'token-one\n');
    writeFileSync(join(dir, 'ca.crt'), `${caPem}\n`);
    writeFileSync(join(dir, 'namespace'), 'sigwatch-system');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the server from the service variables and authorizes with the mounted CA and token', async () => {
    const c = await loadInCluster({ env, dir });
    expect(c.server).to.equal('https://10.96.0.1:443');
    const o = await authorized(c, { accept: 'application/json' });
    expect((o.agent as Agent).options.ca).to.equal(caPem);
    expect(o.headers).to.deep.equal({ accept: 'application/json', authorization: 'Bearer token-one' });
  });

  it('puts an IPv6 service address in brackets', async () => {
    const c = await loadInCluster({
      env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      dir,
    });
    expect(c.server).to.equal('https://[fd00::1]:6443');
  });

  for (const [name, e] of [
    ['no variables', {}],
    ['no port', { KUBERNETES_SERVICE_HOST: '10.96.0.1' }],
    ['no host', { KUBERNETES_SERVICE_PORT: '443' }],
    ['an empty host', { KUBERNETES_SERVICE_HOST: '', KUBERNETES_SERVICE_PORT: '443' }],
  ] as const) {
    it(`is NotInCluster with ${name}`, async () => {
      expect(await codeOf(loadInCluster({ env: e, dir }))).to.equal('NotInCluster');
    });
  }

  for (const [host, port] of [
    ['evil.example/x', '443'],
    ['user@evil.example', '443'],
    ['10.96.0.1:8443', '443'],
    ['10.96.0.1', '0'],
    ['10.96.0.1', '65536'],
    ['10.96.0.1', '443/x'],
    ['10.96.0.1', 'https'],
  ] as const) {
    it(`refuses the address ${JSON.stringify(host)} port ${JSON.stringify(port)} (InClusterConfigInvalid)`, async () => {
      const e = { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port };
      expect(await codeOf(loadInCluster({ env: e, dir }))).to.equal('InClusterConfigInvalid');
    });
  }

  for (const [name, prepare] of [
    [
      'the token is missing',
      () => {
        unlinkSync(join(dir, 'token'));
      },
    ],
    [
      'the token is empty',
      () => {
        writeFileSync(join(dir, 'token'), ' \n');
      },
    ],
    [
      'the CA is missing',
      () => {
        unlinkSync(join(dir, 'ca.crt'));
      },
    ],
  ] as const) {
    it(`is InClusterConfigInvalid when ${name}`, async () => {
      prepare();
      expect(await codeOf(loadInCluster({ env, dir }))).to.equal('InClusterConfigInvalid');
    });
  }

  it('re-reads a rotated token once a minute has passed, not before', async () => {
    let now = 1_000;
    const c = await loadInCluster({ env, dir, clock: () => now });
    writeFileSync(join(dir, 'token'), 'token-two');
    now += 59_999;
    expect(await bearer(c)).to.equal('Bearer token-one');
    now += 1;
    expect(await bearer(c)).to.equal('Bearer token-two');
  });

  it('keeps the token in hand when a re-read fails or finds the file empty', async () => {
    let now = 0;
    const c = await loadInCluster({ env, dir, clock: () => now });
    unlinkSync(join(dir, 'token'));
    now += 60_000;
    expect(await bearer(c)).to.equal('Bearer token-one');
    writeFileSync(join(dir, 'token'), '');
    now += 60_000;
    expect(await bearer(c)).to.equal('Bearer token-one');
    writeFileSync(join(dir, 'token'), 'token-three');
    now += 60_000;
    expect(await bearer(c)).to.equal('Bearer token-three');
  });

  describe('choosing the source', () => {
    let home: string;
    beforeEach(() => {
      home = mkdtempSync(join(tmpdir(), 'sigwatch-home-'));
    });
    afterEach(() => {
      rmSync(home, { recursive: true, force: true });
    });

    it('is in-cluster when there is no kubeconfig flag, $KUBECONFIG or ~/.kube/config', async () => {
      const c = await loadKubeConnection({ env, home, serviceAccountDir: dir });
      expect(c.server).to.equal('https://10.96.0.1:443');
    });

    it('is NotInCluster when there is no kubeconfig and no service variables', async () => {
      expect(await codeOf(loadKubeConnection({ env: {}, home, serviceAccountDir: dir }))).to.equal(
        'NotInCluster',
      );
    });

    it('uses the --kubeconfig file, not the pod’s service account', async function () {
      // The first import of client-node takes a while on a loaded machine.
      this.timeout(20_000);
      mkdirSync(join(home, '.kube'));
      writeFileSync(
        join(home, '.kube', 'config'),
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
          users: [{ name: 'u', user: { token: 'from-kubeconfig' } }],
          contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'x',
        }),
      );
      const c = await loadKubeConnection({
        kubeconfig: join(home, '.kube', 'config'),
        env,
        home,
        serviceAccountDir: dir,
      });
      expect(c.server).to.equal('https://127.0.0.1:6443');
      expect(await bearer(c)).to.equal('Bearer from-kubeconfig');
    });
  });
});
