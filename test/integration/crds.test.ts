/**
 * The CRDs on the real API server: they install, the valid policies apply,
 * and each broken policy is refused by `kubectl apply` wherever the schema
 * and CEL can judge it (the rest is the validator's, see policy-corpus.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { stringify } from 'yaml';
import { exec } from '../support/exec.js';
import { brokenPolicies, validPolicies } from '../support/policy-corpus.js';
import { testEnv } from '../support/testenv.js';

const crdDir = new URL('../../crds/', import.meta.url).pathname;

describe('CRDs on the API server', function () {
  this.timeout(120_000);
  let dir: string;
  const suffix = randomBytes(3).toString('hex');

  const kubectl = (args: string[]): Promise<{ stdout: string; stderr: string }> =>
    exec('kubectl', args, { env: { KUBECONFIG: testEnv().kubeconfig } });

  async function apply(name: string, spec: unknown): Promise<{ ok: boolean; output: string }> {
    const file = join(dir, `${name}.yaml`);
    const doc = { apiVersion: 'sigwatch.dev/v1alpha1', kind: 'ImagePolicy', metadata: { name }, spec };
    await writeFile(file, stringify(doc));
    try {
      const r = await kubectl(['apply', '--validate=strict', '-f', file]);
      return { ok: true, output: r.stdout };
    } catch (error: unknown) {
      return { ok: false, output: error instanceof Error ? error.message : String(error) };
    }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-crds-'));
    await kubectl(['apply', '-f', crdDir]);
    await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/imagepolicies.sigwatch.dev',
      'crd/imageaudits.sigwatch.dev',
      'crd/imageauditreports.sigwatch.dev',
    ]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const p of validPolicies) {
    it(`accepts the ${p.name} policy and prints its columns`, async () => {
      const name = `valid-${p.name}-${suffix}`;
      const r = await apply(name, p.spec);
      expect(r.ok, r.output).to.equal(true);
      const table = await kubectl(['get', 'ipol', name]);
      expect(table.stdout.split('\n')[0]?.split(/\s+/)).to.deep.equal([
        'NAME',
        'MODE',
        'PODS',
        'COMPLIANT',
        'NONCOMPLIANT',
        'UNKNOWN',
        'EXEMPT',
        'READY',
        'EVICTIONSPAUSED',
        'AGE',
      ]);
      // The schema's default fills the Mode column of a policy that does not say it.
      const mode = (p.spec as { mode?: string }).mode ?? 'Audit';
      expect(table.stdout.split('\n')[1]?.split(/\s+/)[1]).to.equal(mode);
      const wide = await kubectl(['get', 'ipol', name, '-o', 'wide']);
      expect(wide.stdout.split('\n')[0]?.split(/\s+/)).to.include('REASON');
    });
  }

  for (const p of brokenPolicies) {
    const verdict = p.apiServerRejects ? 'refuses' : 'stores (the validator refuses)';
    it(`${verdict} ${p.name}`, async () => {
      const r = await apply(`broken-${p.name}-${suffix}`, p.spec);
      expect(r.ok, r.output).to.equal(!p.apiServerRejects);
    });
  }

  it('finding 10: the CEL rule refuses both keyless.issuer and issuerRegExp, and neither', async () => {
    const policy = (keyless: Record<string, unknown>): unknown => ({
      match: { images: ['registry.example.com/**'] },
      authorities: [{ name: 'ci', keyless: { subject: 'release@example.com', ...keyless } }],
    });
    const both = await apply(
      `issuer-both-${suffix}`,
      policy({ issuer: 'https://gitlab.com', issuerRegExp: '^https://gitlab\\.com$' }),
    );
    expect(both.ok).to.equal(false);
    expect(both.output).to.contain('set exactly one of issuer or issuerRegExp');
    const neither = await apply(`issuer-neither-${suffix}`, policy({}));
    expect(neither.ok).to.equal(false);
    expect(neither.output).to.contain('set exactly one of issuer or issuerRegExp');
    const pattern = await apply(
      `issuer-pattern-${suffix}`,
      policy({ issuerRegExp: '^https://gitlab\\.com$' }),
    );
    expect(pattern.ok, pattern.output).to.equal(true);
  });

  it('accepts an ImageAudit and refuses one without a schedule', async () => {
    const ns = 'default';
    const file = join(dir, 'audit.yaml');
    const audit = (spec: unknown): string =>
      stringify({
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImageAudit',
        metadata: { name: `monthly-${suffix}`, namespace: ns },
        spec,
      });
    await writeFile(
      file,
      audit({ schedule: '0 6 1 * *', policies: ['prod'], notify: { when: 'OnViolation' } }),
    );
    await kubectl(['apply', '--validate=strict', '-f', file]);
    await writeFile(file, audit({ policies: ['prod'] }));
    let refused = false;
    try {
      await kubectl(['apply', '--validate=strict', '-f', file]);
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
  });
});
