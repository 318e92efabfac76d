/**
 * `sigwatch verify` over many images: they are checked concurrently, yet the
 * output keeps the order they were given in; the concurrency stays within
 * `--concurrency` overall and the client's per-registry bound per host, so a
 * slow host cannot hold every slot; one image's failure is its own verdict
 * and leaves the others' alone. Real registry and cosign signatures; the
 * counting proxy slows or fails chosen requests and records when each one
 * was in flight.
 */
import { expect } from 'chai';
import { runCli } from '../../../src/cli/program.js';
import { defaultLimits } from '../../../src/registry/limits.js';
import { generateKeyPair, sign, type CosignKey } from '../../support/cosign.js';
import {
  startCountingProxy,
  type CountingProxy,
  type RecordedRequest,
} from '../../support/counting-proxy.js';
import { pushRandomImage, randomRepo } from '../../support/images.js';
import { testEnv } from '../../support/testenv.js';

interface Printed {
  readonly image: string;
  readonly verdict: string;
  readonly reasons: readonly string[];
}

async function cli(args: string[]): Promise<{ code: number; printed: Printed[]; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  return { code, printed: out === '' ? [] : (JSON.parse(out) as Printed[]), err };
}

/** The image repository a registry API path is about (`/v2/<repo>/manifests/…` → `<repo>`). */
const repositoryOf = (path: string): string =>
  /^\/v2\/(.+?)\/(?:manifests|blobs|tags|referrers)\//.exec(path)?.[1] ?? path;

/** Most requests (or, with `keyOf`, most distinct keys) in flight at one instant. */
function peakInFlight(requests: readonly RecordedRequest[], keyOf: (r: RecordedRequest) => string): number {
  let peak = 0;
  for (const r of requests) {
    // Overlap at r's start: every request that started no later and had not yet ended.
    const live = requests.filter((o) => o.startMs <= r.startMs && o.endMs > r.startMs);
    peak = Math.max(peak, new Set(live.map(keyOf)).size);
  }
  return peak;
}

describe('verify: many images at once (order, bounds, isolation)', function () {
  this.timeout(180_000);
  let key: CosignKey;
  const proxies: CountingProxy[] = [];

  before(async () => {
    key = await generateKeyPair();
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });

  /** `n` signed images (`signed: false` leaves them unsigned), each in its own repository of one random prefix. */
  async function pushImages(n: number, signed = true): Promise<{ prefix: string; refs: string[] }> {
    const registry = testEnv().registry;
    const prefix = randomRepo('fleet');
    const refs: string[] = [];
    for (let i = 0; i < n; i++) {
      const img = await pushRandomImage(registry, `${prefix}/img${String(i)}`, {
        layers: 1,
        layerBytes: 256,
      });
      if (signed) await sign(img.ref, key, 'bundle');
      refs.push(img.ref);
    }
    return { prefix, refs };
  }

  async function proxy(options: Parameters<typeof startCountingProxy>[1]): Promise<CountingProxy> {
    const p = await startCountingProxy(testEnv().registry, options);
    proxies.push(p);
    return p;
  }

  const via = (p: CountingProxy, refs: readonly string[]): string[] =>
    refs.map((r) => r.replace(testEnv().registry, p.address));

  const base = (...proxied: CountingProxy[]): string[] => [
    'verify',
    '--key',
    key.pub,
    ...proxied.flatMap((p) => ['--insecure-registry', p.address]),
    '-o',
    'json',
  ];

  it('prints the verdicts in the order the images were given, though the first one finishes last', async () => {
    const { prefix, refs } = await pushImages(5);
    const [unsigned] = (await pushImages(1, false)).refs;
    const images = [...refs.slice(0, 2), unsigned ?? '', ...refs.slice(2)];
    // The first image's registry answers slowly: done in order of completion, it would be printed last.
    const p = await proxy({ delayMs: (path) => (path.startsWith(`/v2/${prefix}/img0/`) ? 400 : 0) });
    const given = via(p, images);

    const result = await cli([...base(p), ...given]);

    expect(result.code, result.err).to.equal(1);
    expect(result.printed.map((r) => r.image)).to.deep.equal(given);
    expect(result.printed.map((r) => r.verdict)).to.deep.equal([
      'Compliant',
      'Compliant',
      'NonCompliant',
      'Compliant',
      'Compliant',
      'Compliant',
    ]);
    // The order was kept, not merely met: the images were in flight together.
    expect(peakInFlight(p.requests, (r) => repositoryOf(r.path))).to.be.above(1);
  });

  it('has no more images in flight than --concurrency', async () => {
    const { refs } = await pushImages(9);
    const p = await proxy({ delayMs: () => 60 });

    const result = await cli([...base(p), '--concurrency', '3', ...via(p, refs)]);

    expect(result.code, result.err).to.equal(0);
    expect(peakInFlight(p.requests, (r) => repositoryOf(r.path))).to.equal(3);
  });

  it("keeps one registry's images within its request bound, so another registry's images are not held up", async () => {
    const perHost = defaultLimits.perRegistryConcurrency;
    const slow = await pushImages(perHost + 4);
    const fast = await pushImages(2);
    const slowProxy = await proxy({ delayMs: () => 300 });
    const fastProxy = await proxy({});
    // Slow images first: with one overall queue they would take every slot of --concurrency.
    const args = [
      ...base(slowProxy, fastProxy),
      '--concurrency',
      String(perHost + 2),
      ...via(slowProxy, slow.refs),
      ...via(fastProxy, fast.refs),
    ];

    const result = await cli(args);

    expect(result.code, result.err).to.equal(0);
    expect(result.printed).to.have.lengthOf(perHost + 6);
    expect(
      peakInFlight(slowProxy.requests, () => 'all'),
      'requests at once',
    ).to.be.at.most(perHost);
    expect(
      peakInFlight(slowProxy.requests, (r) => repositoryOf(r.path)),
      'images at once',
    ).to.be.at.most(perHost);
    const firstSlowAnswer = Math.min(...slowProxy.requests.map((r) => r.endMs));
    const fastDone = Math.max(...fastProxy.requests.map((r) => r.endMs));
    expect(fastDone, 'the other registry finished before the slow one answered once').to.be.below(
      firstSlowAnswer,
    );
  });

  it("turns one image's registry failure and one bad reference into their own verdicts, the others unaffected", async () => {
    const { prefix, refs } = await pushImages(3);
    // The middle image's repository is unavailable (503 after every retry): undecided, not unsigned.
    const p = await proxy({ failWith: (path) => (path.startsWith(`/v2/${prefix}/img1/`) ? 503 : undefined) });
    const given = [...via(p, refs), 'NOT a reference'];

    const result = await cli([...base(p), ...given]);

    expect(result.code, result.err).to.equal(2);
    expect(result.printed.map((r) => [r.verdict, r.reasons])).to.deep.equal([
      ['Compliant', []],
      ['Unknown', ['RegistryUnavailable']],
      ['Compliant', []],
      ['Unknown', ['DigestUnresolved']],
    ]);
  });
});
