/**
 * Enforce on a real node (issue 22), each case with the kubelet's own
 * `imageID`: what a pod runs when its tag names a single manifest or an
 * index, `signatureOn` following from it, and verdicts that stay definite
 * when the tag moves. Sigwatch is the installed 2-replica Deployment
 * (test/support/cluster-sigwatch.ts).
 */
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import type { ClusterEnv } from '../../support/cluster.js';
import { clusterKube, installedSigwatch } from '../../support/cluster-sigwatch.js';
import {
  clusterDeploy,
  clusterNamespace,
  clusterPods,
  type ClusterPod,
} from '../../support/cluster-workloads.js';
import { sign, type CosignKey } from '../../support/cosign.js';
import { pushRandomIndex, pushRunnableImage, randomRepo } from '../../support/images.js';
import { enforceIn, PolicyObjects } from '../../support/operator-objects.js';
import { eventually } from '../../support/operator-process.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Marks {
  readonly pod: ClusterPod;
  readonly reasons: string;
  readonly stale: string | undefined;
}

describe('Enforce on a real node: tags that move, indexes and signatureOn', function () {
  this.timeout(300_000);
  let env: ClusterEnv;
  let key: CosignKey;
  const policies = new PolicyObjects(() => env.kc);

  /** A label-only Enforce policy (admission off: these pods must run to be judged at runtime). */
  const policy = async (ns: string, extra: Record<string, unknown> = {}): Promise<void> => {
    const spec = enforceIn(
      ns,
      [`${env.registry}/**`],
      [{ name: 'release', key: { publicKey: await readFile(key.pub, 'utf8') } }],
      {
        actions: { label: true, evict: { enabled: false } },
        admission: { enabled: false },
        reverifyInterval: '1m',
      },
    );
    await policies.create(`enf-${ns}`, { ...spec, match: { ...(spec['match'] as object), ...extra } });
  };

  /** The one live pod of `app` with its compliance label and Sigwatch's annotations. */
  const marks = async (ns: string, app: string): Promise<Marks | undefined> => {
    const [pod, ...more] = await clusterPods(env, ns, app);
    if (pod === undefined || more.length > 0) return undefined;
    const meta = (
      (await clusterKube(env).call({ method: 'GET', path: `/api/v1/namespaces/${ns}/pods/${pod.name}` })) as {
        metadata: { annotations?: Record<string, string> };
      }
    ).metadata;
    return {
      pod,
      reasons: meta.annotations?.['sigwatch.dev/reasons'] ?? '',
      stale: meta.annotations?.['sigwatch.dev/stale'],
    };
  };

  /** The pod of `app` once Ready and labelled `label`. */
  const judged = (ns: string, app: string, label: string, timeoutMs = 90_000): Promise<Marks> =>
    eventually(
      `${ns}/${app} labelled ${label}`,
      async () => {
        const m = await marks(ns, app);
        return m?.pod.ready === true && m.pod.label === label ? m : undefined;
      },
      timeoutMs,
    );

  before(async function () {
    this.timeout(900_000);
    ({ env, key } = await installedSigwatch());
  });

  after(async () => {
    if (policies.count() > 0) await policies.deleteAll();
  });

  it('a single-platform image run by tag reports its manifest digest, and stays NonCompliant with its definite reason when the tag moves; a fresh pod of the new digest gets its own definite verdict', async () => {
    const ns = await clusterNamespace(env, 'moved');
    const repo = randomRepo('moved');
    const first = await pushRunnableImage(env.registry, repo, 'v1');
    await policy(ns);
    await clusterDeploy(env, ns, 'old', `${env.registry}/${repo}:v1`);
    const before = await judged(ns, 'old', 'noncompliant');
    // The kubelet's imageID for a tag naming a single manifest: that manifest's digest.
    expect(before.pod.imageID).to.equal(`${env.registry}/${repo}@${first.digest}`);
    expect(before.reasons).to.contain('SignatureMissing');

    // The tag moves to another unsigned image; a new Deployment pulls it (Always: the node has v1 cached).
    const second = await pushRunnableImage(env.registry, repo, 'v1');
    await clusterDeploy(env, ns, 'fresh', `${env.registry}/${repo}:v1`, { pullAlways: true });
    const fresh = await judged(ns, 'fresh', 'noncompliant', 60_000);
    expect(fresh.pod.imageID).to.equal(`${env.registry}/${repo}@${second.digest}`);
    expect(fresh.reasons).to.contain('SignatureMissing');
    expect(fresh.reasons).not.to.contain('IndexUnresolved');
    // The old pod keeps its definite verdict after the tag was re-read (the fresh pod made Sigwatch re-read it).
    for (let i = 0; i < 5; i++) {
      const now = await marks(ns, 'old');
      expect(now?.pod.label, 'old pod label').to.equal('noncompliant');
      expect(now?.reasons).to.contain('SignatureMissing');
      expect(now?.reasons).not.to.contain('IndexUnresolved');
      await sleep(2_000);
    }
  });

  it('a two-platform index signed on the index: the kubelet reports the index digest; Compliant under either and index, NonCompliant under platform', async () => {
    const repo = randomRepo('index');
    const { index } = await pushRandomIndex(env.registry, repo, 'v1', true);
    await sign(index.ref, key, 'bundle');
    const expected: Record<string, string> = {
      either: 'compliant',
      index: 'compliant',
      platform: 'noncompliant',
    };
    for (const [signatureOn, label] of Object.entries(expected)) {
      const ns = await clusterNamespace(env, `on-${signatureOn}`);
      await policy(ns, { signatureOn });
      await clusterDeploy(env, ns, 'app', `${env.registry}/${repo}:v1`);
      const m = await judged(ns, 'app', label);
      // containerd reports what the tag named when it was pulled: the index, not the platform manifest it ran.
      expect(m.pod.imageID, signatureOn).to.equal(`${env.registry}/${repo}@${index.digest}`);
      if (label === 'noncompliant') expect(m.reasons, signatureOn).to.contain('SignatureMissing');
    }
  });
});
