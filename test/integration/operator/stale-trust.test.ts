/**
 * A stale public-good root (refresh failing for longer than
 * --trust-stale-after; here the TUF mirror is a closed port and the limit 1 s)
 * must turn "unknown CA / missing log" into TrustMaterialStale — Unknown,
 * never `noncompliant` — for authorities that rely on it, while a key
 * authority's missing signature stays a definite failure.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { generateKeyPair, importCertificateKey, sign } from '../../support/cosign.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { createTestCa, issueLeaf } from '../../support/test-ca.js';
import { testEnv } from '../../support/testenv.js';

const identity = 'https://github.com/sigwatch/app/.github/workflows/release.yml@refs/heads/main';
const issuer = 'https://issuer.test';

describe('operator: stale trust root', function () {
  this.timeout(120_000);
  let operator: OperatorProcess;
  const policies = new PolicyObjects();

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const operatorNs = await freshNamespace('stale-op');
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      testEnv().registry,
      '--no-leader-election',
      '--trust-refresh',
      'on',
      '--tuf-mirror',
      'http://127.0.0.1:1',
      '--trust-stale-after',
      '1s',
    ]);
    // Let the root go stale before any policy exists.
    await new Promise((r) => setTimeout(r, 1_500));
  });

  after(async () => {
    await policies.deleteAll();
    expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
  });

  const policy = (name: string, ns: string, authorities: unknown[]): Promise<void> =>
    policies.create(name, enforceIn(ns, [`${testEnv().registry}/**`], authorities));

  const marks = async (ns: string, name: string): Promise<[string | undefined, string | undefined]> => {
    const m = await podMarks(ns, name);
    return [m.label, m.reasons];
  };

  it('holds a certificate from a CA the stale root does not know as Unknown (TrustMaterialStale)', async () => {
    const ns = await freshNamespace('stale');
    // A test CA stands in for new Sigstore infrastructure the stale root has never heard of.
    const ca = await createTestCa();
    const signer = await importCertificateKey(await issueLeaf(ca, identity, issuer, 1));
    const img = await pushRandomImage(testEnv().registry, randomRepo('stale'));
    await sign(img.ref, signer, 'bundle');
    await policy(`stale-${ns}`, ns, [{ name: 'ci', keyless: { issuer, subject: identity } }]);
    await runningPod(ns, 'app', img.ref);
    const got = await eventually('marks', async () => {
      const m = await marks(ns, 'app');
      return m[0] === undefined ? undefined : m;
    });
    expect(got).to.deep.equal(['unknown', 'TrustMaterialStale']);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await marks(ns, 'app'))[0]).to.equal('unknown');
  });

  it('still fails a missing signature under a key authority: staleness excuses only trust-root gaps', async () => {
    const ns = await freshNamespace('stale-key');
    const key = await generateKeyPair();
    const img = await pushRandomImage(testEnv().registry, randomRepo('stale'));
    await policy(`stale-key-${ns}`, ns, [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }]);
    await runningPod(ns, 'app', img.ref);
    await eventually('noncompliant', async () =>
      (await marks(ns, 'app'))[0] === 'noncompliant' ? true : undefined,
    );
  });

  it('reports the age of the root it could not refresh', async () => {
    const text = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
    const age = Number(/^sigwatch_trust_root_age_seconds (\S+)$/m.exec(text)?.[1]);
    expect(age).to.be.greaterThan(1);
  });
});
