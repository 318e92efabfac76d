/**
 * Finding 6 of issue 14: a policy edit that changes where evidence must be
 * looked for (an authority's `source.repository`, a new attestation rule)
 * is not judged from evidence fetched before it. The operator runs as a
 * child process against the real API server and registry (behind a counting
 * proxy, which shows when the new place was read), images signed by the real
 * cosign into other repositories (COSIGN_REPOSITORY). reverifyInterval is
 * 1 h: only the edit can explain a fetch within the test.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { attest, generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import { startCountingProxy, type CountingProxy } from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo, type PushedImage } from '../../support/images.js';
import { applyCrd, freshNamespace, kubeConfig } from '../../support/kube.js';
import { enforceIn, PolicyObjects, runningPod } from '../../support/operator-objects.js';
import { eventually, startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { testEnv } from '../../support/testenv.js';

interface Marks {
  readonly label: string | undefined;
  readonly reasons: string | undefined;
  readonly stale: boolean;
}

describe('operator: finding 6, a policy edit that needs evidence from a new place', function () {
  this.timeout(180_000);
  let operator: OperatorProcess;
  let proxy: CountingProxy;
  let k1: CosignKey;
  let k2: CosignKey;
  let repo: string;
  const policies = new PolicyObjects();

  const marks = async (ns: string, name: string): Promise<Marks> => {
    const meta = (await kubeConfig().makeApiClient(CoreV1Api).readNamespacedPod({ namespace: ns, name }))
      .metadata;
    return {
      label: meta?.labels?.['sigwatch.dev/compliance'],
      reasons: meta?.annotations?.['sigwatch.dev/reasons'],
      stale: meta?.annotations?.['sigwatch.dev/stale'] === 'true',
    };
  };

  /**
   * Runs `body` while sampling the pod's marks every 50 ms: what the whole
   * window looked like (also named in `body`'s failure).
   */
  async function sampled(ns: string, name: string, body: () => Promise<void>): Promise<Marks[]> {
    const window = sample(ns, name);
    try {
      await body();
    } catch (error: unknown) {
      const seen = await window.stop();
      const labels = [...new Set(seen.map((m) => `${String(m.label)} ${String(m.reasons)}`))];
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}; seen: ${labels.join(', ')}`,
        {
          cause: error,
        },
      );
    }
    return window.stop();
  }

  function sample(ns: string, name: string): { stop: () => Promise<Marks[]> } {
    const seen: Marks[] = [];
    const state = { running: true };
    const loop = (async (): Promise<void> => {
      while (state.running) {
        // A failed read (the API server busy) is no observation.
        const m = await marks(ns, name).catch(() => undefined);
        if (m !== undefined) seen.push(m);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    return {
      stop: async () => {
        state.running = false;
        await loop;
        return seen;
      },
    };
  }

  /** `registry/repository` as the operator reads it: through the proxy. */
  const viaProxy = (path: string): string => `${proxy.address}/${path}`;
  const signedInto = (path: string): { repository: string } => ({
    repository: `${testEnv().registry}/${path}`,
  });
  const tagRead = (path: string, image: PushedImage, suffix: 'sig' | 'att'): number =>
    proxy.count('HEAD', `/v2/${path}/manifests/${image.digest.replace(':', '-')}.${suffix}`) +
    proxy.count('GET', `/v2/${path}/manifests/${image.digest.replace(':', '-')}.${suffix}`);

  const authority = async (k: CosignKey, source: string): Promise<Record<string, unknown>> => ({
    name: 'release',
    key: { publicKey: await readFile(k.pub, 'utf8') },
    source: { repository: viaProxy(source) },
  });

  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
    const operatorNs = await freshNamespace('needs-op');
    [k1, k2] = await Promise.all([generateKeyPair(), generateKeyPair()]);
    repo = randomRepo('needs');
    proxy = await startCountingProxy(testEnv().registry);
    operator = await startOperatorProcess([
      '--namespace',
      operatorNs,
      '--insecure-registry',
      proxy.address,
      '--no-leader-election',
    ]);
  });

  after(async () => {
    const code = await operator.stop();
    await policies.deleteAll();
    await proxy.close();
    expect(code, operator.logs().slice(-4000)).to.equal(0);
  });

  /** A pod of a new image signed by k1 into `sigs-a`, under an Enforce policy naming k1 and `sigs-a`: compliant. */
  async function compliantPod(name: string): Promise<{
    ns: string;
    policy: string;
    image: PushedImage;
    spec: (k: CosignKey, source: string, extra?: Record<string, unknown>) => Promise<Record<string, unknown>>;
  }> {
    const ns = await freshNamespace(`needs-${name}`);
    const policy = `needs-${ns}`;
    const image = await pushRandomImage(testEnv().registry, `${repo}/${name}`);
    await sign(image.ref, k1, 'legacy', signedInto(`${repo}/${name}-sigs-a`));
    const spec = async (
      k: CosignKey,
      source: string,
      extra: Record<string, unknown> = {},
    ): Promise<Record<string, unknown>> =>
      enforceIn(ns, [`${proxy.address}/**`], [await authority(k, source)], {
        reverifyInterval: '1h',
        ...extra,
      });
    await policies.create(policy, await spec(k1, `${repo}/${name}-sigs-a`));
    await runningPod(ns, 'app', image.ref.replace(testEnv().registry, proxy.address));
    await eventually(`${ns}/app compliant`, async () =>
      (await marks(ns, 'app')).label === 'compliant' ? true : undefined,
    );
    return { ns, policy, image, spec };
  }

  it('finding 6: moving signatures to another repository (and adding an attestation rule) keeps the pod compliant, never noncompliant, and is judged from the new place at once', async () => {
    const { ns, policy, image, spec } = await compliantPod('moved');
    const sigsB = `${repo}/moved-sigs-b`;
    // The new key signed and attested into repository B only; the evidence held so far never looked there.
    await sign(image.ref, k2, 'legacy', signedInto(sigsB));
    const dir = await mkdtemp(join(tmpdir(), 'sigwatch-needs-'));
    await writeFile(join(dir, 'predicate.json'), JSON.stringify({ build: 'ok' }));
    await attest(image.ref, k2, 'legacy', 'custom', join(dir, 'predicate.json'), signedInto(sigsB));

    const seen = await sampled(ns, 'app', async () => {
      const edited = Date.now();
      await policies.replaceSpec(policy, await spec(k2, sigsB));
      await eventually(
        'repository B read and the pod judged compliant from it',
        async () => {
          const m = await marks(ns, 'app');
          return tagRead(sigsB, image, 'sig') > 0 && m.label === 'compliant' && !m.stale ? true : undefined;
        },
        15_000,
      );
      expect(Date.now() - edited, 'well before reverifyInterval (1 h)').to.be.lessThan(15_000);

      // A new attestation rule, satisfied in B: the .att tags are read at once, the pod stays compliant.
      await policies.replaceSpec(
        policy,
        await spec(k2, sigsB, { attestations: [{ name: 'build', predicateType: 'custom' }] }),
      );
      await eventually(
        'the .att tags of B read and the pod judged compliant',
        async () => {
          const m = await marks(ns, 'app');
          return tagRead(sigsB, image, 'att') > 0 && m.label === 'compliant' && !m.stale ? true : undefined;
        },
        15_000,
      );
      // Settled: it stays so.
      await new Promise((r) => setTimeout(r, 2_000));
    });
    const labels = [...new Set(seen.map((m) => m.label))];
    expect(labels, JSON.stringify(seen.filter((m) => m.label !== 'compliant'))).to.deep.equal(['compliant']);
    expect(seen.at(-1)).to.deep.equal({ label: 'compliant', reasons: undefined, stale: false });
  });

  it('finding 6: moving to a repository without a signature by the new key still ends noncompliant, once that repository was read', async () => {
    const { ns, policy, image, spec } = await compliantPod('unsigned');
    // Repository C is a real signature repository (it holds k2's signature of another image), with nothing for this digest.
    const sigsC = `${repo}/unsigned-sigs-c`;
    const elsewhere = await pushRandomImage(testEnv().registry, `${repo}/elsewhere`);
    await sign(elsewhere.ref, k2, 'legacy', signedInto(sigsC));

    const seen = await sampled(ns, 'app', async () => {
      await policies.replaceSpec(policy, await spec(k2, sigsC));
      await eventually(
        'the pod noncompliant',
        async () => ((await marks(ns, 'app')).label === 'noncompliant' ? true : undefined),
        15_000,
      );
    });
    // Judged from a fetch that read C (the edit alone would not have read it for an hour).
    expect(tagRead(sigsC, image, 'sig'), 'C was read').to.be.greaterThan(0);
    const first = seen.findIndex((m) => m.label === 'noncompliant');
    expect(seen.slice(0, first).every((m) => m.label === 'compliant')).to.equal(true);
    // A fresh definite verdict: the key's signature in A is not the new key's, and C holds none.
    expect(await marks(ns, 'app')).to.deep.equal({
      label: 'noncompliant',
      reasons: 'KeyMismatch',
      stale: false,
    });
  });
});
