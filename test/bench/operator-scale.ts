/**
 * The operator's controller at cluster scale (design §7): 1,000 digests in
 * the real registry, each signed (a cosign `.sig` tag) and attested (an
 * `.att` tag with a 500-component SPDX SBOM), run by 10,000 pods fed to the
 * controller as its pod watch would, behind a counting proxy. Measured:
 *
 * - the first judgement of every pod (fetching all evidence: the baseline);
 * - a policy edit: time until every pod is re-judged, and registry requests
 *   meanwhile (target < 1 s, 0 requests);
 * - a steady-state refresh: requests per digest and manifest/blob GETs
 *   (target ≤ 4, none);
 *
 * Memory is measured apart, in a `sigwatch run` process (operator-memory.ts).
 *
 * Signatures and attestations are made here with node:crypto exactly as
 * `cosign sign|attest --key` makes them (cosign itself takes ~0.5 s per
 * image; 2,000 runs would dominate the benchmark), and pushed with the
 * registry's own API. The controller runs as a follower that may not write:
 * label writes are paced by the write limiter and measured by the tests.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { Digest } from '../../src/base/digest.js';
import type { PolicySource } from '../../src/policy/compile.js';
import { Controller } from '../../src/operator/controller.js';
import { EvidenceStore } from '../../src/operator/evidence/store.js';
import { KubeHttp } from '../../src/operator/kube/client.js';
import { kubeConfigConnection } from '../../src/operator/kube/connection.js';
import type { Logger } from '../../src/operator/kube/logger.js';
import type { TrimmedPod } from '../../src/operator/pod.js';
import { RegistryClient } from '../../src/registry/client.js';
import { publicGoodTrustedRoot } from '../../src/verify/public-good.js';
import { startCountingProxy } from '../support/counting-proxy.js';
import { attestationLayer, signatureLayer, testKey, type TestKey } from '../support/evidence-builder.js';
import { pushRandomImage } from '../support/images.js';
import { MediaType, pushBlob, pushManifest, type Descriptor } from '../support/oci-http.js';
import { spdx } from '../support/sbom-documents.js';
import { parsePurl } from '../../src/sbom/purl.js';
import { parseRange } from '../../src/sbom/range.js';
import { median, quantile } from './stats.js';

export interface OperatorScaleResult {
  readonly pods: number;
  readonly digests: number;
  readonly componentsPerSbom: number;
  readonly firstJudgementMs: number;
  readonly policyEditMs: number;
  readonly policyEditRequests: number;
  readonly steadyRequestsPerDigest: number;
  readonly steadyManifestOrBlobGets: number;
  /** "Which pods run package X in range R?" over every pod, from the signed SBOMs held. */
  readonly inventoryQueries: number;
  readonly inventoryP50Ms: number;
  readonly inventoryP99Ms: number;
  /** Pods with the package in range, median over the queries (so the answers are not empty). */
  readonly inventoryMedianHits: number;
}

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

async function pushTag(
  registry: string,
  repo: string,
  tag: string,
  layers: readonly { body: Uint8Array; mediaType: string; annotations: Record<string, string> }[],
): Promise<void> {
  const config = await pushBlob(registry, repo, new TextEncoder().encode('{}'), MediaType.ociConfig);
  const descs: Descriptor[] = [];
  for (const l of layers) {
    descs.push({ ...(await pushBlob(registry, repo, l.body, l.mediaType)), annotations: l.annotations });
  }
  await pushManifest(
    registry,
    repo,
    { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: descs },
    tag,
  );
}

/** One signed and attested image, as cosign's legacy tag layout stores it. */
async function signedImage(registry: string, repo: string, key: TestKey, sbom: unknown): Promise<Digest> {
  const img = await pushRandomImage(registry, repo, { layers: 1, layerBytes: 256 });
  const digest = img.digest as Digest;
  const hex = digest.slice('sha256:'.length);
  const sig = signatureLayer(key, `${registry}/${repo}`, digest);
  const att = attestationLayer(key, `${registry}/${repo}`, digest, 'https://spdx.dev/Document', sbom);
  await pushTag(registry, repo, `sha256-${hex}.sig`, [
    { body: sig.payload, mediaType: MediaType.cosignSimpleSigning, annotations: { ...sig.annotations } },
  ]);
  await pushTag(registry, repo, `sha256-${hex}.att`, [
    {
      body: att.envelope,
      mediaType: 'application/vnd.dsse.envelope.v1+json',
      annotations: { ...att.annotations },
    },
  ]);
  return digest;
}

export function spec(key: TestKey, denyVersions: string, mode = 'Enforce'): Record<string, unknown> {
  return {
    mode,
    match: { images: ['127.0.0.1:*/**'] },
    authorities: [{ name: 'release', key: { publicKey: key.publicKeyPem } }],
    sbom: {
      required: true,
      deny: { packages: [{ purl: 'pkg:npm/lib-7', versions: denyVersions }], licenses: ['AGPL-3.0-only'] },
    },
  };
}

/** The images both scale benchmarks judge: signed, and attested with an SBOM each. */
export interface ScaleImages {
  readonly key: TestKey;
  readonly componentsPerSbom: number;
  readonly images: readonly {
    readonly registry: string;
    readonly repository: string;
    readonly digest: Digest;
  }[];
}

/** Packages shared by the images (base images and common libraries): each SBOM draws most of its packages here. */
const sharedPackages = 2_000;
/** Packages only one image has (its own code and vendored libraries). */
const ownPackages = 50;

/**
 * Pushes `digests` signed images, each attested with its own SPDX SBOM of
 * `components` packages: all but 50 drawn from a pool of 2,000 shared ones
 * (a different selection and versions per image), as images built from
 * common bases are — identical documents would flatter interning, wholly
 * distinct ones would describe no real cluster.
 */
export async function pushScaleImages(
  registry: string,
  digests = 1000,
  components = 500,
): Promise<ScaleImages> {
  const key = testKey();
  const pkg = (
    name: string,
    version: string,
  ): { name: string; version: string; purl: string; license: string } => ({
    name,
    version,
    purl: `pkg:npm/${name}@${version}`,
    license: 'MIT',
  });
  const sbomOf = (image: number): unknown => {
    const shared = components - ownPackages;
    const packages = Array.from({ length: shared }, (_, c) => {
      const n = (image * 37 + c * 4) % sharedPackages;
      // Three versions in circulation per package, as after a few rounds of upgrades.
      return pkg(`lib-${String(n)}`, `1.${String((n + (image % 3)) % 30)}.0`);
    });
    for (let c = 0; c < ownPackages; c++) packages.push(pkg(`app${String(image)}-mod-${String(c)}`, '0.1.0'));
    return spdx(packages, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
  };
  const images: { registry: string; repository: string; digest: Digest }[] = [];
  for (let i = 0; i < digests; i += 20) {
    const batch = Array.from({ length: Math.min(20, digests - i) }, (_, j) => i + j);
    const got = await Promise.all(
      batch.map((n) => signedImage(registry, `bench-scale/app${String(n)}`, key, sbomOf(n))),
    );
    got.forEach((digest, j) =>
      images.push({ registry, repository: `bench-scale/app${String(batch[j] ?? 0)}`, digest }),
    );
  }
  return { key, componentsPerSbom: components, images };
}

export async function operatorScaleBench(
  prepared: ScaleImages,
  kubeconfig: string,
  podsPerDigest = 10,
): Promise<OperatorScaleResult> {
  const { key, images: pushed } = prepared;
  const registry = pushed[0]?.registry ?? '';
  const digests = pushed.length;
  const components = prepared.componentsPerSbom;
  const proxy = await startCountingProxy(registry);
  const images = pushed.map((img) => ({ repository: img.repository, digest: img.digest }));

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const client = new RegistryClient({ plainHttpRegistries: [proxy.address] });
  const controller = new Controller({
    kube: new KubeHttp(kubeConfigConnection(kc)),
    logger: quiet,
    operatorNamespace: 'sigwatch-system',
    mayWrite: () => false,
  });
  const store = new EvidenceStore({
    client,
    logger: quiet,
    onChange: (id) => {
      controller.evidenceChanged(id);
    },
  });
  controller.attachStore(store);
  controller.setTrust({
    generation: 1,
    publicGood: { root: publicGoodTrustedRoot(), stale: false },
    trustedRoots: new Map(),
    secretKeys: new Map(),
  });
  const policy = (generation: number, deny: string): PolicySource => ({
    name: 'bench',
    generation,
    spec: spec(key, deny),
  });
  controller.upsertPolicy(policy(1, '<1.0.0'));
  controller.setNamespace('bench', { 'kubernetes.io/metadata.name': 'bench' });

  const judged = async (): Promise<void> => {
    for (;;) {
      await controller.idle();
      const fetched = images.every(
        (img) => store.get(`${proxy.address}/${img.repository}@${img.digest}`) !== undefined,
      );
      if (fetched) {
        await controller.idle();
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  try {
    const t0 = performance.now();
    images.forEach((img, i) => {
      const ref = `${proxy.address}/${img.repository}@${img.digest}`;
      for (let p = 0; p < podsPerDigest; p++) {
        const pod: TrimmedPod = {
          namespace: 'bench',
          name: `pod-${String(i)}-${String(p)}`,
          uid: `${String(i)}-${String(p)}`,
          labels: {},
          annotations: {},
          phase: 'Running',
          owner: { kind: 'ReplicaSet', name: `rs-${String(i)}` },
          deleting: false,
          mirror: false,
          pullSecrets: [],
          serviceAccount: 'default',
          containers: [{ name: 'app', kind: 'container', image: ref, imageID: ref, state: 'running' }],
        };
        controller.upsertPod(pod);
      }
    });
    await judged();
    const firstJudgementMs = performance.now() - t0;

    // A policy edit: tighten the deny rule. Every pod is re-judged from cached evidence.
    await new Promise((r) => setTimeout(r, 200));
    proxy.reset();
    const t1 = performance.now();
    controller.upsertPolicy(policy(2, '>=1.7.0'));
    await controller.idle();
    const policyEditMs = performance.now() - t1;
    const policyEditRequests = proxy.requests.length;

    // A steady-state refresh of every digest.
    proxy.reset();
    store.refreshAll();
    let last = -1;
    while (proxy.requests.length !== last) {
      last = proxy.requests.length;
      await new Promise((r) => setTimeout(r, 500));
    }
    const steady = proxy.requests;

    // Inventory queries: a different shared package each time, a range that catches some versions.
    const times: number[] = [];
    const hits: number[] = [];
    for (let q = 0; q < 200; q++) {
      const purl = parsePurl(`pkg:npm/lib-${String((q * 97) % sharedPackages)}`);
      const range = parseRange('<1.15.0', 'npm');
      if (purl === undefined || range === undefined) throw new Error('bench query does not parse');
      const t = performance.now();
      const found = controller.containersWithPackage({ purl, range });
      times.push(performance.now() - t);
      hits.push(found.filter((h) => h.inRange === true).length);
    }
    return {
      pods: digests * podsPerDigest,
      digests,
      componentsPerSbom: components,
      firstJudgementMs,
      policyEditMs,
      policyEditRequests,
      steadyRequestsPerDigest: steady.length / digests,
      steadyManifestOrBlobGets: steady.filter(
        (r) => r.method === 'GET' && /\/(manifests|blobs)\//.test(r.path),
      ).length,
      inventoryQueries: times.length,
      inventoryP50Ms: median(times),
      inventoryP99Ms: quantile(times, 0.99),
      inventoryMedianHits: median(hits),
    };
  } finally {
    controller.stop();
    store.stop();
    await client.close();
    await proxy.close();
  }
}
