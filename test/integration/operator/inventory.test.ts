/**
 * The aggregated API `inventory.sigwatch.dev` (issue 16) spoken to as the
 * API server's front proxy speaks to it: two `sigwatch run` replicas, the
 * real API server's front-proxy client certificate and its
 * `extension-apiserver-authentication` ConfigMap, RBAC from
 * config/samples/rbac.yaml decided by real SubjectAccessReviews, images
 * whose SBOMs the real cosign attested (or only attached). The path through
 * the API server itself (APIService, kubectl) runs on the cluster profile
 * (test/integration/cluster/aggregated-api.test.ts).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parseAllDocuments } from 'yaml';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import { attachSbom, attest, generateKeyPair, sign } from '../../support/cosign.js';
import { exec } from '../../support/exec.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConnection } from '../../support/kube.js';
import { PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { log4j, spdx } from '../../support/sbom-documents.js';
import { testEnv } from '../../support/testenv.js';

const log4jPurl = 'pkg:maven/org.apache.logging.log4j/log4j-core';
const group = '/apis/inventory.sigwatch.dev/v1alpha1';
const apiServiceName = 'v1alpha1.inventory.sigwatch.dev';
const samplesRbac = new URL('../../../config/samples/rbac.yaml', import.meta.url);

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface Caller {
  /** front: the front proxy's certificate (default); admin: a client certificate of the cluster CA; none. */
  /** foreign: a certificate of another CA with the front proxy's allowed name. */
  readonly cert?: 'front' | 'admin' | 'foreign' | 'none';
  readonly user?: string;
  readonly groups?: readonly string[];
  readonly accept?: string;
}

interface Match {
  namespace: string;
  pod: string;
  version?: string;
  signed: boolean;
}

describe('operator: aggregated API (as the front proxy calls it)', function () {
  this.timeout(180_000);
  const policies = new PolicyObjects();
  const replicas: OperatorProcess[] = [];
  const kube = (): KubeHttp => new KubeHttp(kubeConnection());
  let ns1: string;
  let ns2: string;
  let operatorNs: string;
  let vulnerable: PushedImage;
  let caBundle: string | undefined;
  let leader: OperatorProcess;
  let follower: OperatorProcess;
  const pki = (name: string): Promise<string> => readFile(join(testEnv().dir, 'pki', name), 'utf8');
  let foreignDir: string;

  /** One request to a replica's API port, with the caller's certificate and identity headers. */
  const call = async (
    replica: OperatorProcess,
    method: 'GET' | 'POST',
    path: string,
    caller: Caller & { body?: string; verify?: boolean } = {},
  ): Promise<Answer> => {
    const cert = caller.cert ?? 'front';
    const files = { front: 'front-proxy', admin: 'admin' } as const;
    const [certPem, keyPem] =
      cert === 'none'
        ? [undefined, undefined]
        : cert === 'foreign'
          ? await Promise.all([
              readFile(join(foreignDir, 'c.pem'), 'utf8'),
              readFile(join(foreignDir, 'k.pem'), 'utf8'),
            ])
          : await Promise.all([pki(`${files[cert]}.crt`), pki(`${files[cert]}.key`)]);
    const headers: Record<string, string | string[]> = { accept: caller.accept ?? 'application/json' };
    if (caller.user !== undefined) headers['x-remote-user'] = caller.user;
    if (caller.groups !== undefined) headers['x-remote-group'] = [...caller.groups];
    if (caller.body !== undefined) headers['content-type'] = 'application/json';
    const verify = caller.verify ?? true;
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: replica.apiPort,
          path,
          method,
          headers,
          ...(certPem === undefined ? {} : { cert: certPem, key: keyPem }),
          // The name the API server checks: <service>.<namespace>.svc.
          servername: `sigwatch-inventory.${operatorNs}.svc`,
          ...(verify ? { ca: caBundle, rejectUnauthorized: true } : { rejectUnauthorized: false }),
          signal: AbortSignal.timeout(15_000),
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
          });
        },
      );
      req.on('error', reject);
      req.end(caller.body);
    });
  };

  const isLeader = async (r: OperatorProcess): Promise<boolean> =>
    /^sigwatch_leader 1$/m.test(
      await (await fetch(`http://127.0.0.1:${String(r.probePort)}/metrics`)).text(),
    );

  const users = {
    /** RoleBinding to sigwatch-namespace-viewer in ns1 only. */
    alice: { user: 'alice', groups: ['system:authenticated'] },
    /** ClusterRoleBinding to sigwatch-security-team. */
    bob: { user: 'bob', groups: ['system:authenticated'] },
    /** Authenticated, no binding at all. */
    carol: { user: 'carol', groups: ['system:authenticated'] },
  } as const;

  const packageQuery = (versions: string, purl = log4jPurl, namespaces?: string[]): string =>
    JSON.stringify({
      apiVersion: 'inventory.sigwatch.dev/v1alpha1',
      kind: 'PackageQuery',
      spec: { purl, versions, ...(namespaces === undefined ? {} : { namespaces }) },
    });

  before(async () => {
    // A client certificate for the front proxy's allowed name, from a CA the API server never heard of.
    foreignDir = await mkdtemp(join(tmpdir(), 'sigwatch-foreign-'));
    await exec('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=front-proxy-client',
      '-addext',
      'extendedKeyUsage=clientAuth',
      '-days',
      '1',
      '-keyout',
      join(foreignDir, 'k.pem'),
      '-out',
      join(foreignDir, 'c.pem'),
    ]);
    for (const crd of allCrds()) await applyCrd(crd);
    const key = await generateKeyPair();
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-inventory-'));
    const sbom = async (name: string, version: string): Promise<string> => {
      const file = join(dir, `${name}.json`);
      await writeFile(file, JSON.stringify(spdx([log4j(version)])));
      return file;
    };
    const repo = randomRepo('inventory');
    const push = (name: string): Promise<PushedImage> =>
      pushRandomImage(testEnv().registry, `${repo}/${name}`);
    const [vuln, patched, attachedOnly, plain] = await Promise.all([
      push('vulnerable'),
      push('patched'),
      push('attached'),
      push('plain'),
    ]);
    vulnerable = vuln;
    for (const image of [vulnerable, patched, plain]) await sign(image.ref, key, 'bundle');
    await attest(vulnerable.ref, key, 'bundle', 'spdxjson', await sbom('vulnerable', '2.14.1'));
    await attest(patched.ref, key, 'bundle', 'spdxjson', await sbom('patched', '2.17.1'));
    // Unsigned, attached only: answered, but marked as such.
    await attachSbom(attachedOnly.ref, await sbom('attached', '2.16.0'), 'spdx');

    [ns1, ns2, operatorNs] = await Promise.all([
      freshNamespace('inv-a'),
      freshNamespace('inv-b'),
      freshNamespace('inv-op'),
    ]);
    await policies.create(`inventory-${ns1}`, {
      mode: 'Audit',
      match: {
        images: [`${testEnv().registry}/**`],
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [ns1, ns2] }],
        },
      },
      authorities: [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      sbom: { required: true },
    });
    await Promise.all([
      runningPod(ns1, 'vuln-a', vulnerable.ref),
      runningPod(ns2, 'vuln-b', vulnerable.ref),
      runningPod(ns1, 'patched', patched.ref),
      runningPod(ns2, 'attached', attachedOnly.ref),
      runningPod(ns1, 'plain', plain.ref),
    ]);

    // The sample roles, as shipped; bindings as the file's comments say.
    for (const doc of parseAllDocuments(await readFile(samplesRbac, 'utf8'))) {
      const role = doc.toJS() as { metadata: { name: string } };
      await kube().send({
        method: 'DELETE',
        path: `/apis/rbac.authorization.k8s.io/v1/clusterroles/${role.metadata.name}`,
      });
      await kube().call({
        method: 'POST',
        path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
        body: role,
      });
    }
    const ref = (name: string): object => ({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name,
    });
    const userSubject = (name: string): object => ({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'User',
      name,
    });
    await kube().call({
      method: 'POST',
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns1}/rolebindings`,
      body: {
        metadata: { name: 'alice' },
        roleRef: ref('sigwatch-namespace-viewer'),
        subjects: [userSubject('alice')],
      },
    });
    for (const [name, role, subjects] of [
      [`inv-bob-${ns1}`, 'sigwatch-security-team', ['bob']],
      [`inv-query-${ns1}`, 'sigwatch-package-query', ['alice']],
    ] as const)
      await kube().call({
        method: 'POST',
        path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
        body: { metadata: { name }, roleRef: ref(role), subjects: subjects.map(userSubject) },
      });

    // The APIService the leader publishes its CA in (the install ships it; the bare API server has no
    // Service endpoints for it, so it stays unavailable there and is removed afterwards).
    await kube().send({
      method: 'DELETE',
      path: `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`,
    });
    await kube().call({
      method: 'POST',
      path: '/apis/apiregistration.k8s.io/v1/apiservices',
      body: {
        metadata: { name: apiServiceName },
        spec: {
          group: 'inventory.sigwatch.dev',
          version: 'v1alpha1',
          service: { namespace: operatorNs, name: 'sigwatch-inventory', port: 443 },
          groupPriorityMinimum: 1000,
          versionPriority: 15,
        },
      },
    });
    const args = [
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--lease-duration',
      '3s',
      '--inventory-unsigned-sboms',
    ];
    replicas.push(await startOperatorProcess(args), await startOperatorProcess(args));
    [leader, follower] = await eventually('one leader, one follower', async () => {
      const [a, b] = replicas as [OperatorProcess, OperatorProcess];
      const [la, lb] = await Promise.all([isLeader(a), isLeader(b)]);
      if (la === lb) return undefined;
      return la ? [a, b] : [b, a];
    });
    caBundle = await eventually('the leader published its CA', async () => {
      const svc = (await kube().call({
        method: 'GET',
        path: `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`,
      })) as { spec: { caBundle?: string } };
      return svc.spec.caBundle === undefined
        ? undefined
        : Buffer.from(svc.spec.caBundle, 'base64').toString();
    });
  });

  after(async () => {
    await kube().send({
      method: 'DELETE',
      path: `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName}`,
    });
    for (const name of [`inv-bob-${ns1}`, `inv-query-${ns1}`])
      await kube().send({
        method: 'DELETE',
        path: `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`,
      });
    await policies.deleteAll();
    for (const r of replicas) expect(await r.stop(), r.logs().slice(-3000)).to.equal(0);
  });

  it('serves discovery and OpenAPI to the front proxy, over TLS the published CA verifies', async () => {
    const aggregator = { user: 'system:kube-aggregator', groups: ['system:masters'] };
    const resources = await call(leader, 'GET', group, aggregator);
    expect(resources.status).to.equal(200);
    expect(
      (resources.body['resources'] as { name: string; namespaced: boolean; verbs: string[] }[]).map(
        (r) => `${r.name} ${String(r.namespaced)} ${r.verbs.join(',')}`,
      ),
    ).to.deep.equal([
      'imageverdicts true get,list',
      'runningimages false get,list',
      'packagequeries false create',
    ]);
    const root = await call(leader, 'GET', '/openapi/v3', aggregator);
    const url = (root.body['paths'] as Record<string, { serverRelativeURL: string }>)[
      'apis/inventory.sigwatch.dev/v1alpha1'
    ]?.serverRelativeURL;
    expect(url).to.match(/^\/openapi\/v3\/apis\/inventory\.sigwatch\.dev\/v1alpha1\?hash=/);
    const doc = await call(leader, 'GET', url ?? '', aggregator);
    const schemas = (doc.body['components'] as { schemas: Record<string, unknown> }).schemas;
    expect(Object.keys(schemas)).to.include('dev.sigwatch.inventory.v1alpha1.ImageVerdict');
    // Only the leader's certificate chains to the published CA.
    const untrusted = await call(follower, 'GET', group, aggregator).then(
      () => 'trusted',
      (e: unknown) => String(e),
    );
    expect(untrusted).to.match(/certificate|self.signed|unable to verify/i);
  });

  it("lists a namespace's ImageVerdicts to a user its Role allows; 403 for other namespaces, all namespaces and users without a binding", async () => {
    const list = await eventually(
      'the three pods of ns1 judged',
      async () => {
        const a = await call(leader, 'GET', `${group}/namespaces/${ns1}/imageverdicts`, users.alice);
        const items = (a.body['items'] ?? []) as { containers: { status: string }[] }[];
        return items.length === 3 && items.every((i) => i.containers[0]?.status === 'Judged') ? a : undefined;
      },
      30_000,
    );
    expect(list.body['kind']).to.equal('ImageVerdictList');
    const items = list.body['items'] as {
      metadata: { name: string; namespace: string };
      containers: {
        name: string;
        digest: string;
        verdict: string;
        reasons: string[];
        policies: { name: string }[];
      }[];
    }[];
    expect(
      items.map((i) => `${i.metadata.namespace}/${i.metadata.name} ${i.containers[0]?.verdict ?? ''}`),
    ).to.deep.equal([`${ns1}/patched Compliant`, `${ns1}/plain NonCompliant`, `${ns1}/vuln-a Compliant`]);
    const plain = items.find((i) => i.metadata.name === 'plain')?.containers[0];
    expect(plain?.reasons).to.deep.equal(['SbomMissing']);
    expect(plain?.policies.map((p) => p.name)).to.deep.equal([`inventory-${ns1}`]);

    const one = await call(leader, 'GET', `${group}/namespaces/${ns1}/imageverdicts/vuln-a`, users.alice);
    expect(one.status).to.equal(200);
    expect((one.body['containers'] as { digest: string }[])[0]?.digest).to.equal(vulnerable.ref);
    expect(
      (await call(leader, 'GET', `${group}/namespaces/${ns1}/imageverdicts/nobody`, users.alice)).status,
    ).to.equal(404);

    const table = await call(leader, 'GET', `${group}/namespaces/${ns1}/imageverdicts`, {
      ...users.alice,
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
    expect(table.body['kind']).to.equal('Table');
    expect(
      (table.body['columnDefinitions'] as { name: string; priority: number }[])
        .filter((c) => c.priority === 0)
        .map((c) => c.name),
    ).to.deep.equal(['Pod', 'Container', 'Image', 'Verdict', 'Reasons', 'Age']);
    expect(
      (table.body['rows'] as { cells: unknown[] }[]).map((r) => r.cells.slice(0, 2).concat(r.cells[3])),
    ).to.deep.equal([
      ['patched', 'app', 'Compliant'],
      ['plain', 'app', 'NonCompliant'],
      ['vuln-a', 'app', 'Compliant'],
    ]);

    const other = await call(leader, 'GET', `${group}/namespaces/${ns2}/imageverdicts`, users.alice);
    expect(other.status).to.equal(403);
    expect(other.body).to.include({ kind: 'Status', reason: 'Forbidden' });
    expect(other.body['message']).to.contain('User "alice" cannot list resource "imageverdicts"');
    expect((await call(leader, 'GET', `${group}/imageverdicts`, users.alice)).status).to.equal(403);
    expect(
      (await call(leader, 'GET', `${group}/namespaces/${ns1}/imageverdicts`, users.carol)).status,
    ).to.equal(403);

    const all = await call(leader, 'GET', `${group}/imageverdicts`, users.bob);
    const namespaces = new Set(
      (all.body['items'] as { metadata: { namespace: string } }[]).map((i) => i.metadata.namespace),
    );
    expect([...namespaces]).to.include.members([ns1, ns2]);
    const images = await call(leader, 'GET', `${group}/runningimages`, users.bob);
    const entry = (images.body['items'] as { image: string; pods: number; namespaces: string[] }[]).find(
      (i) => i.image === vulnerable.ref,
    );
    expect(entry).to.deep.include({ pods: 2, namespaces: [ns1, ns2].sort() });
    expect((await call(leader, 'GET', `${group}/runningimages`, users.alice)).status).to.equal(403);
  });

  it('answers a PackageQuery for all namespaces with cluster-wide permission, else only for namespaces asked and allowed', async () => {
    const matches = (a: Answer): string[] =>
      ((a.body['status'] as { matches?: Match[] } | undefined)?.matches ?? [])
        .map((m) => `${m.namespace}/${m.pod} ${m.version ?? ''} ${String(m.signed)}`)
        .sort();
    const everything = await eventually(
      'all three matches',
      async () => {
        const a = await call(leader, 'POST', `${group}/packagequeries`, {
          ...users.bob,
          body: packageQuery('<2.17.1'),
        });
        return a.status === 201 && matches(a).length === 3 ? a : undefined;
      },
      30_000,
    );
    expect(matches(everything)).to.deep.equal(
      [`${ns1}/vuln-a 2.14.1 true`, `${ns2}/attached 2.16.0 false`, `${ns2}/vuln-b 2.14.1 true`].sort(),
    );
    const mine = await call(leader, 'POST', `${group}/packagequeries`, {
      ...users.alice,
      body: packageQuery('<2.17.1', log4jPurl, [ns1]),
    });
    expect(mine.status).to.equal(201);
    expect(matches(mine)).to.deep.equal([`${ns1}/vuln-a 2.14.1 true`]);
    // All namespaces, or one more than allowed: refused whole, never answered in part.
    for (const namespaces of [undefined, [ns1, ns2]]) {
      const refused = await call(leader, 'POST', `${group}/packagequeries`, {
        ...users.alice,
        body: packageQuery('<2.17.1', log4jPurl, namespaces),
      });
      expect(refused.status, JSON.stringify(namespaces)).to.equal(403);
      expect(refused.body['message']).to.contain('User "alice"');
    }
    expect(
      (
        await call(leader, 'POST', `${group}/packagequeries`, {
          ...users.carol,
          body: packageQuery('<2.17.1'),
        })
      ).status,
    ).to.equal(403);

    const bad = await call(leader, 'POST', `${group}/packagequeries`, {
      ...users.bob,
      body: packageQuery('<2.17.1', 'not-a-purl'),
    });
    expect(bad.status).to.equal(400);
    expect(bad.body['reason']).to.equal('BadRequest');
    const unknownField = await call(leader, 'POST', `${group}/packagequeries`, {
      ...users.bob,
      body: JSON.stringify({
        apiVersion: 'inventory.sigwatch.dev/v1alpha1',
        kind: 'PackageQuery',
        spec: { purl: log4jPurl, namespace: 'x' },
      }),
    });
    expect(unknownField.status).to.equal(400);
    const huge = await call(leader, 'POST', `${group}/packagequeries`, {
      ...users.bob,
      body: packageQuery('x'.repeat(70_000)),
    });
    expect(huge.status).to.equal(413);
  });

  it("believes identity headers only over the front proxy certificate (not another CA's with its name), and a follower does not answer", async () => {
    const path = `${group}/imageverdicts`;
    // No certificate; a certificate of the cluster CA (not the front proxy's) claiming system:masters;
    // the front proxy's certificate without a user.
    expect((await call(leader, 'GET', path, { ...users.bob, cert: 'none' })).status).to.equal(401);
    expect(
      (await call(leader, 'GET', path, { user: 'bob', groups: ['system:masters'], cert: 'admin' })).status,
    ).to.equal(401);
    expect((await call(leader, 'GET', path, {})).status).to.equal(401);
    expect((await call(leader, 'GET', path, { ...users.bob, cert: 'foreign' })).status).to.equal(401);
    // The same request with the front proxy's own certificate is answered: the refusals are the certificate's.
    expect((await call(leader, 'GET', path, users.bob)).status).to.equal(200);
    const fromFollower = await call(follower, 'GET', path, { ...users.bob, verify: false });
    expect(fromFollower.status).to.equal(503);
    expect(fromFollower.body['reason']).to.equal('ServiceUnavailable');
  });
});
