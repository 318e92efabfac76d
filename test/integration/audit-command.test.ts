/**
 * `sigwatch audit` against the real API server, registry and cosign: the
 * report counts what design §2 says — `signed` only by a matching policy's
 * authority, an image signed by another key apart as `signedUntrusted` —
 * and the exit code says 1 while anything is NonCompliant.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { AuditReport } from '../../src/audit/report.js';
import { runCli } from '../../src/cli/program.js';
import { allCrds } from '../../src/operator/crds/crds.js';
import { attest, generateKeyPair, sign } from '../support/cosign.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../support/images.js';
import { applyCrd, freshNamespace } from '../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../support/operator-objects.js';
import { log4j, spdx } from '../support/sbom-documents.js';
import { testEnv } from '../support/testenv.js';

describe('sigwatch audit', function () {
  this.timeout(120_000);
  const policies = new PolicyObjects();

  after(() => policies.deleteAll());

  it('reports every running image of the cluster against its policies, and exits 1 while something is NonCompliant', async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const [key, otherKey] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    const repo = randomRepo('audit');
    const push = (name: string): Promise<PushedImage> =>
      pushRandomImage(testEnv().registry, `${repo}/${name}`);
    const [good, unsigned, imposter, elsewhere] = await Promise.all([
      push('good'),
      push('unsigned'),
      push('imposter'),
      push('elsewhere'),
    ]);
    await sign(good.ref, key, 'bundle');
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-audit-'));
    await writeFile(join(dir, 'sbom.json'), JSON.stringify(spdx([log4j('2.17.1')])));
    await attest(good.ref, key, 'bundle', 'spdxjson', join(dir, 'sbom.json'));
    await sign(imposter.ref, otherKey, 'bundle');

    const ns = await freshNamespace('audit');
    const operatorNs = await freshNamespace('audit-op');
    await policies.create(
      `audit-${ns}`,
      enforceIn(
        ns,
        [
          `${testEnv().registry}/${repo}/good`,
          `${testEnv().registry}/${repo}/unsigned`,
          `${testEnv().registry}/${repo}/imposter`,
        ],
        [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      ),
    );
    await Promise.all([
      runningPod(ns, 'good', good.ref),
      runningPod(ns, 'good-2', good.ref),
      runningPod(ns, 'unsigned', unsigned.ref),
      runningPod(ns, 'imposter', imposter.ref),
      // No policy matches its image: listed as unmatched, not counted as an image.
      runningPod(ns, 'stranger', elsewhere.ref),
    ]);

    const out: string[] = [];
    const err: string[] = [];
    const args = ['--kubeconfig', testEnv().kubeconfig, '--namespace', operatorNs, '--only-namespace', ns];
    const code = await runCli(['audit', ...args, '--insecure-registry', testEnv().registry, '-o', 'json'], {
      writeOut: (s) => out.push(s),
      writeErr: (s) => err.push(s),
    });
    expect(code, err.join('')).to.equal(1);
    const report = JSON.parse(out.join('')) as AuditReport;
    expect(report).to.deep.include({
      images: 3,
      signed: 1,
      signedUntrusted: 1,
      withSbom: 1,
      compliant: 1,
      nonCompliant: 2,
      unknown: 0,
      compliancePercent: 33.3,
      unmatchedPods: [`${ns}/stranger`],
    });
    expect(report.entries.map((e) => [e.image, e.verdict, e.reasons.join(), e.pods.join()])).to.deep.equal(
      [
        [imposter.ref, 'NonCompliant', 'KeyMismatch', `${ns}/imposter`],
        [unsigned.ref, 'NonCompliant', 'SignatureMissing', `${ns}/unsigned`],
        [good.ref, 'Compliant', '', `${ns}/good,${ns}/good-2`],
      ].sort((a, b) =>
        a[1] === b[1] ? (String(a[0]) < String(b[0]) ? -1 : 1) : a[1] === 'NonCompliant' ? -1 : 1,
      ),
    );

    // The table; with a policy name that matches nothing, every pod is unmatched and nothing fails.
    const table: string[] = [];
    const tableCode = await runCli(['audit', ...args, '--policy', 'no-such-policy'], {
      writeOut: (s) => table.push(s),
      writeErr: () => undefined,
    });
    expect(tableCode, 'no policy applies: nothing to fail').to.equal(0);
    expect(table.join('')).to.match(/^=== SUPPLY-CHAIN AUDIT sigwatch-audit /);
    expect(table.join('')).to.contain('UNMATCHED PODS (no policy selects them): 5');
  });
});
