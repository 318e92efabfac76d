/**
 * `match.signatureOn` with real multi-platform images signed by the real
 * cosign: the runtime reports either the index digest or a platform
 * manifest's, the pipeline signed either the index or the platform
 * manifests, and the policy says which must be signed (design §4.1). A
 * platform manifest whose index cannot be found from the pod's tag is
 * Unknown `IndexUnresolved` under `index`, never noncompliant.
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import type { SignatureOn } from '../../../src/policy/spec.js';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomIndex, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { enforceIn, PolicyObjects, podMarks, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

describe('operator: match.signatureOn', function () {
  this.timeout(120_000);
  let operator: OperatorProcess;
  let key: CosignKey;
  /** An index whose platform manifests are signed, not the index. */
  let platformsSigned: { index: PushedImage; platforms: PushedImage[]; tagged: string };
  /** An index that is signed, not its platform manifests. */
  let indexSigned: { index: PushedImage; platforms: PushedImage[]; tagged: string };
  const policies = new PolicyObjects();

  /** A namespace whose policy requires signatures by `key` on what `on` says; a pod in it running `imageID`. */
  async function judged(
    on: SignatureOn,
    image: string,
    imageID: string,
  ): Promise<{ label?: string; reasons?: string }> {
    const ns = await freshNamespace(`sigon-${on}`);
    const spec = enforceIn(
      ns,
      [`${testEnv().registry}/**`],
      [{ name: 'k', key: { publicKey: await readFile(key.pub, 'utf8') } }],
    );
    await policies.create(`sigon-${ns}`, {
      ...spec,
      match: { ...(spec['match'] as object), signatureOn: on },
    });
    await runningPod(ns, 'app', image, {}, imageID);
    return eventually(`${ns}/app labelled`, async () => {
      const marks = await podMarks(ns, 'app');
      return marks.label === undefined
        ? undefined
        : { label: marks.label, ...(marks.reasons === undefined ? {} : { reasons: marks.reasons }) };
    });
  }

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    key = await generateKeyPair();
    const push = async (
      name: string,
    ): Promise<{ index: PushedImage; platforms: PushedImage[]; tagged: string }> => {
      const repo = `${randomRepo('sigon')}/${name}`;
      const pushed = await pushRandomIndex(testEnv().registry, repo, 'v1');
      return { ...pushed, tagged: `${testEnv().registry}/${repo}:v1` };
    };
    [platformsSigned, indexSigned] = await Promise.all([push('platforms'), push('index')]);
    await Promise.all([
      ...platformsSigned.platforms.map((p) => sign(p.ref, key, 'bundle')),
      sign(indexSigned.index.ref, key, 'bundle'),
    ]);
    operator = await startOperatorProcess([
      '--namespace',
      await freshNamespace('sigon-op'),
      '--insecure-registry',
      testEnv().registry,
      '--no-leader-election',
    ]);
  });

  after(async () => {
    await policies.deleteAll();
    expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
  });

  describe('the runtime reports the index; the platform manifests are signed', () => {
    const run = (on: SignatureOn): Promise<{ label?: string }> =>
      judged(on, platformsSigned.tagged, platformsSigned.index.ref);
    it('either: compliant through the platform manifests', async () => {
      expect((await run('either')).label).to.equal('compliant');
    });
    it('platform: compliant', async () => {
      expect((await run('platform')).label).to.equal('compliant');
    });
    it('index: noncompliant (the index itself is unsigned)', async () => {
      expect(await run('index')).to.deep.equal({ label: 'noncompliant', reasons: 'SignatureMissing' });
    });
  });

  describe('the runtime reports a platform manifest; the index is signed', () => {
    const amd64 = (): string => indexSigned.platforms[0]?.ref ?? '';
    it('either: compliant through the index the tag resolves to', async () => {
      expect((await judged('either', indexSigned.tagged, amd64())).label).to.equal('compliant');
    });
    it('index: compliant', async () => {
      expect((await judged('index', indexSigned.tagged, amd64())).label).to.equal('compliant');
    });
    it('platform: noncompliant', async () => {
      expect((await judged('platform', indexSigned.tagged, amd64())).label).to.equal('noncompliant');
    });
    it('index, but the pod names no tag: unknown IndexUnresolved, never noncompliant', async () => {
      expect(await judged('index', amd64(), amd64())).to.deep.equal({
        label: 'unknown',
        reasons: 'IndexUnresolved',
      });
    });
  });
});
