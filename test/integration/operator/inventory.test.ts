/**
 * The inventory API end to end (issue 7, design §5): two `sigwatch run`
 * replicas with leader election, images whose SBOMs were attested (or only
 * attached) by the real cosign, tokens minted by the real API server and
 * checked by it (TokenReview, SubjectAccessReview against real RBAC).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { ExitCode, runCli } from '../../../src/cli/program.js';
import { allCrds } from '../../../src/operator/crds.js';
import { KubeHttp } from '../../../src/operator/kube-http.js';
import { attachSbom, attest, generateKeyPair, sign } from '../../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig, mintToken } from '../../support/kube.js';
import { PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { log4j, spdx } from '../../support/sbom-documents.js';
import { testEnv } from '../../support/testenv.js';

const log4jPurl = 'pkg:maven/org.apache.logging.log4j/log4j-core';

interface Match {
  namespace: string;
  pod: string;
  version?: string;
  inRange: boolean | 'unparseable';
  signed: boolean;
}

describe('operator: inventory API', function () {
  this.timeout(180_000);
  const policies = new PolicyObjects();
  const replicas: OperatorProcess[] = [];
  let ns1: string;
  let ns2: string;
  let reader: string;
  let stranger: string;
  let vulnerable: PushedImage;

  const get = (base: string, path: string, token?: string): Promise<Response> =>
    fetch(`${base}${path}`, {
      redirect: 'manual',
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  const isLeader = async (r: OperatorProcess): Promise<boolean> =>
    /^sigwatch_leader 1$/m.test(
      await (await fetch(`http://127.0.0.1:${String(r.probePort)}/metrics`)).text(),
    );

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const key = await generateKeyPair();
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-inventory-'));
    const sbom = async (name: string, version: string): Promise<string> => {
      const file = join(dir, `${name}.json`);
      await writeFile(file, JSON.stringify(spdx([log4j(version)])));
      return file;
    };
    const repo = randomRepo('inventory');
    let patched: PushedImage;
    let attachedOnly: PushedImage;
    let plain: PushedImage;
    const push = (name: string): Promise<PushedImage> =>
      pushRandomImage(testEnv().registry, `${repo}/${name}`);
    [vulnerable, patched, attachedOnly, plain] = await Promise.all([
      push('vulnerable'),
      push('patched'),
      push('attached'),
      push('plain'),
    ]);
    for (const image of [vulnerable, patched, plain]) await sign(image.ref, key, 'bundle');
    await attest(vulnerable.ref, key, 'bundle', 'spdxjson', await sbom('vulnerable', '2.14.1'));
    await attest(patched.ref, key, 'bundle', 'spdxjson', await sbom('patched', '2.17.1'));
    // Unsigned, attached only: answered, but marked as such.
    await attachSbom(attachedOnly.ref, await sbom('attached', '2.16.0'), 'spdx');

    [ns1, ns2] = await Promise.all([freshNamespace('inv-a'), freshNamespace('inv-b')]);
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

    // Who may ask: `reader` through RBAC on the non-resource URL; `stranger` has a valid token only.
    const kube = new KubeHttp(kubeConfig());
    const role = `sigwatch-inventory-reader-${ns1}`;
    await kube.call({
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterroles',
      body: {
        metadata: { name: role },
        rules: [{ nonResourceURLs: ['/sigwatch/inventory'], verbs: ['get'] }],
      },
    });
    await kube.call({
      method: 'POST',
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns1 }],
      },
    });
    [reader, stranger] = await Promise.all([mintToken(ns1, 'reader'), mintToken(ns1, 'stranger')]);

    const operatorNs = await freshNamespace('inv-op');
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
  });

  after(async () => {
    await policies.deleteAll();
    for (const r of replicas) expect(await r.stop(), r.logs().slice(-3000)).to.equal(0);
  });

  it('answers which running pods contain log4j-core < 2.17.1, across namespaces, signed SBOMs apart from attached ones', async () => {
    const leader = await eventually('a leader', async () => {
      for (const r of replicas) if (await isLeader(r)) return r;
      return undefined;
    });
    const query = `/api/v1/inventory/components?purl=${encodeURIComponent(log4jPurl)}&versions=${encodeURIComponent('<2.17.1')}`;
    const answer = await eventually(
      'every pod judged',
      async () => {
        const res = await get(leader.inventoryURL, query, reader);
        const body = (await res.json()) as { matches: Match[] };
        return body.matches.length === 3 ? body : undefined;
      },
      30_000,
    );
    expect(
      answer.matches.map((m) => `${m.namespace}/${m.pod} ${m.version ?? ''} ${String(m.signed)}`).sort(),
    ).to.deep.equal(
      [`${ns1}/vuln-a 2.14.1 true`, `${ns2}/attached 2.16.0 false`, `${ns2}/vuln-b 2.14.1 true`].sort(),
    );

    const images = (await (await get(leader.inventoryURL, '/api/v1/inventory/images', reader)).json()) as {
      images: { image: string; pods: number; namespaces: string[] }[];
    };
    const entry = images.images.find((i) => i.image === vulnerable.ref);
    expect(entry).to.deep.include({ pods: 2, namespaces: [ns1, ns2].sort() });

    const verdicts = (await (
      await get(leader.inventoryURL, `/api/v1/verdicts/${ns1}/vuln-a`, reader)
    ).json()) as {
      containers: { name: string; status: string; verdicts: { verdict: string }[] }[];
    };
    expect(
      verdicts.containers.map((c) => [c.name, c.status, c.verdicts.map((v) => v.verdict)]),
    ).to.deep.equal([['app', 'Judged', ['Compliant']]]);
    expect((await get(leader.inventoryURL, `/api/v1/verdicts/${ns1}/nobody`, reader)).status).to.equal(404);
    expect(
      (await get(leader.inventoryURL, '/api/v1/inventory/components?purl=not-a-purl', reader)).status,
    ).to.equal(400);
  });

  it('refuses a request without a token, with a token the API server rejects, and one whose SubjectAccessReview is denied', async () => {
    const base = replicas[0]?.inventoryURL ?? '';
    const path = '/api/v1/inventory/images';
    const none = await get(base, path);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.equal('Bearer');
    expect((await get(base, path, 'not-a-token')).status).to.equal(401);
    const denied = await get(base, path, stranger);
    expect(denied.status).to.equal(403);
    expect(((await denied.json()) as { error: string }).error).to.contain(
      `system:serviceaccount:${ns1}:stranger`,
    );

    // Why the check is on /sigwatch/inventory and not design §5's /api/v1/inventory: every
    // authenticated user may get /api/* (ClusterRole system:discovery), so that check admits anyone.
    const review = (await new KubeHttp(kubeConfig()).call({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
      body: {
        spec: {
          nonResourceAttributes: { path: '/api/v1/inventory', verb: 'get' },
          user: `system:serviceaccount:${ns1}:stranger`,
          groups: ['system:serviceaccounts', `system:serviceaccounts:${ns1}`, 'system:authenticated'],
        },
      },
    })) as { status: { allowed: boolean } };
    expect(review.status.allowed).to.equal(true);
  });

  it('redirects from a follower to the leader, and sigwatch query --cluster follows it', async () => {
    const [leader, follower] = await eventually('one leader, one follower', async () => {
      const [a, b] = replicas as [OperatorProcess, OperatorProcess];
      const [la, lb] = await Promise.all([isLeader(a), isLeader(b)]);
      if (la === lb) return undefined;
      return la ? [a, b] : [b, a];
    });
    const res = await eventually('a redirect', async () => {
      const r = await get(follower.inventoryURL, '/api/v1/inventory/images?x=1', reader);
      return r.status === 307 ? r : undefined;
    });
    expect(res.headers.get('location')).to.equal(`${leader.inventoryURL}/api/v1/inventory/images?x=1`);

    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [
        'query',
        log4jPurl,
        '--versions',
        '<2.17.1',
        '--cluster',
        '--inventory-url',
        follower.inventoryURL,
        '--token',
        reader,
      ],
      { writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) },
    );
    expect(code, err.join('')).to.equal(ExitCode.Ok);
    const lines = out.join('').trim().split('\n').sort();
    expect(lines).to.have.length(3);
    expect(lines.join('\n'))
      .to.contain(`${ns1}/vuln-a`)
      .and.contain(`${ns2}/vuln-b`)
      .and.contain('(unsigned SBOM)');

    const none = await runCli(
      [
        'query',
        log4jPurl,
        '--versions',
        '<1.0',
        '--cluster',
        '--inventory-url',
        follower.inventoryURL,
        '--token',
        reader,
      ],
      { writeOut: () => undefined, writeErr: () => undefined },
    );
    expect(none, 'nothing found').to.equal(1);
  });
});
