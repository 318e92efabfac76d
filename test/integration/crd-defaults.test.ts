/**
 * The ImagePolicy CRD's defaults (issue 19, defect 4) on the real API
 * server: a minimal policy is stored with every default the validator would
 * apply, so `kubectl get -o yaml` and the Mode column show what the operator
 * runs; the stored, defaulted spec validates to exactly what the minimal one
 * does; and a value the user gave is never replaced.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { generateKeyPair } from '../support/cosign.js';
import { exec } from '../support/exec.js';
import { applyCrd } from '../support/kube.js';
import { PolicyObjects } from '../support/operator-objects.js';
import { testEnv } from '../support/testenv.js';
import { allCrds } from '../../src/operator/crds/crds.js';
import { schemaDefaults } from '../../src/policy/schema-defaults.js';
import { validatePolicySpec } from '../../src/policy/validate.js';

/** Every leaf of `defaults` as [dotted path, value]. */
function leaves(defaults: Readonly<Record<string, unknown>>, prefix = ''): [string, unknown][] {
  return Object.entries(defaults).flatMap(([k, v]): [string, unknown][] =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? leaves(v as Readonly<Record<string, unknown>>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v]],
  );
}

const at = (o: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);

describe('ImagePolicy CRD defaults', function () {
  this.timeout(60_000);
  const policies = new PolicyObjects();
  let minimal: Record<string, unknown>;

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const key = await generateKeyPair();
    minimal = {
      match: { images: ['registry.example/**'] },
      authorities: [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
    };
  });

  after(async () => {
    await policies.deleteAll();
  });

  it('stores a minimal policy with every default the validator applies', async () => {
    const name = `defaults-${String(Date.now())}`;
    await policies.create(name, minimal);
    const stored = await policies.storedSpec(name);
    const paths = leaves(schemaDefaults());
    expect(paths.length).to.be.greaterThan(15);
    const defaulted = validatePolicySpec(minimal).spec;
    for (const [path, value] of paths) {
      expect(at(stored, path), path).to.deep.equal(value);
      expect(at(defaulted, path), `the validator's ${path}`).to.deep.equal(value);
    }
    // Filling in the defaults changes nothing the operator would do with the policy.
    expect(validatePolicySpec(stored)).to.deep.equal(validatePolicySpec(minimal));
    const mode = await exec('kubectl', ['--kubeconfig', testEnv().kubeconfig, 'get', 'imagepolicy', name]);
    expect(mode.stdout.split('\n')[1]).to.match(new RegExp(`^${name}\\s+Audit\\s`));
  });

  it('keeps what the user wrote', async () => {
    const name = `given-${String(Date.now())}`;
    await policies.create(name, {
      ...minimal,
      mode: 'Enforce',
      actions: { label: false, evict: { enabled: true, maxPerHour: 3 } },
      admission: { onUnknown: 'Allow' },
    });
    const stored = await policies.storedSpec(name);
    expect(at(stored, 'mode')).to.equal('Enforce');
    expect(at(stored, 'actions.label')).to.equal(false);
    expect(at(stored, 'actions.evict.enabled')).to.equal(true);
    expect(at(stored, 'actions.evict.maxPerHour')).to.equal(3);
    expect(at(stored, 'actions.evict.noncompliantFor')).to.equal('10m');
    expect(at(stored, 'admission.onUnknown')).to.equal('Allow');
    expect(at(stored, 'admission.enabled')).to.equal(true);
  });
});
