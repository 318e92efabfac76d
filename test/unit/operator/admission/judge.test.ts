import { expect } from 'chai';
import type { Digest } from '../../../../src/base/digest.js';
import {
  decide,
  maxImagesPerRequest,
  type AdmissionDecision,
  type AdmissionWorld,
  type ImageJudge,
} from '../../../../src/operator/admission/judge.js';
import { validationAnswer } from '../../../../src/operator/admission/review.js';
import { podTemplate, type PodTemplate } from '../../../../src/operator/admission/workloads.js';
import type { EvidenceKey } from '../../../../src/operator/evidence/store.js';
import type { CompiledPolicy, ReadyPolicy } from '../../../../src/policy/compile.js';
import { PolicyEvaluator } from '../../../../src/policy/evaluate.js';
import type { PolicyVerdict } from '../../../../src/policy/verdict.js';
import { RegistryError, type RegistryErrorCode } from '../../../../src/registry/errors.js';
import type { Evidence } from '../../../../src/registry/evidence.js';
import type { ImageReference } from '../../../../src/registry/reference.js';
import { buildEvidence, randomDigest, signatureLayer, testKey } from '../../../support/evidence-builder.js';
import { compile, keyAuthority, ready } from '../../policy/policy-fixtures.js';

const now = new Date('2026-06-01T00:00:00Z');
const key = testKey();
const operatorNamespace = 'sigwatch';

/**
 * The registry side of the decision, held in memory: tags and the evidence
 * of each digest as prepared by a test, or the failure a test sets. The
 * verdicts come from the real evaluator over real signed evidence.
 */
class PreparedRegistry implements ImageJudge {
  readonly tags = new Map<string, Digest>();
  readonly evidenceOf = new Map<Digest, Evidence>();
  resolveFailure: Error | undefined;
  evidenceFailure: Error | undefined;
  readonly resolved: string[] = [];
  readonly fetched: { key: EvidenceKey; policies: string[] }[] = [];
  private readonly evaluator = new PolicyEvaluator();
  private running = 0;
  maxRunning = 0;

  /** Publishes `image` (registry/repository:tag): signed by the test key or not, or with a failed `.sig` source. */
  publish(image: string, state: 'signed' | 'unsigned' | 'sig-unavailable' = 'signed'): Digest {
    const digest = randomDigest();
    const repository = image.replace(/:[^:/]+$/, '');
    this.tags.set(image, digest);
    this.evidenceOf.set(
      digest,
      buildEvidence({
        repository,
        digest,
        signatures: state === 'signed' ? [signatureLayer(key, repository, digest)] : [],
        ...(state === 'sig-unavailable'
          ? {
              sources: [
                { repository, item: 'image', outcome: 'found' },
                {
                  repository,
                  item: 'sig',
                  outcome: 'error',
                  reason: 'RegistryUnavailable',
                  message: 'reset',
                },
                { repository, item: 'referrers', outcome: 'absent' },
              ],
            }
          : {}),
      }),
    );
    return digest;
  }

  async resolve(ref: ImageReference, signal: AbortSignal): Promise<Digest | undefined> {
    signal.throwIfAborted();
    const name = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
    this.resolved.push(name);
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    // Let every other image the decision started run up to here before this one answers.
    for (let i = 0; i < 5; i++) await Promise.resolve();
    this.running -= 1;
    if (this.resolveFailure !== undefined) throw this.resolveFailure;
    return this.tags.get(name);
  }

  /** Index digest → its platform manifests, for `match.signatureOn`. */
  readonly indexes = new Map<Digest, readonly Digest[]>();

  /**
   * Publishes `image` as an index (unsigned itself) over `platforms` platform manifests, each signed
   * or not; returns the index digest.
   */
  publishIndex(image: string, platforms: readonly ('signed' | 'unsigned')[]): Digest {
    const index = this.publish(image, 'unsigned');
    const repository = image.replace(/:[^:/]+$/, '');
    const own = this.evidenceOf.get(index);
    if (own !== undefined)
      this.evidenceOf.set(index, { ...own, imageMediaType: 'application/vnd.oci.image.index.v1+json' });
    const digests = platforms.map((state) => {
      const digest = randomDigest();
      const evidence = buildEvidence({
        repository,
        digest,
        signatures: state === 'signed' ? [signatureLayer(key, repository, digest)] : [],
      });
      this.evidenceOf.set(digest, {
        ...evidence,
        imageMediaType: 'application/vnd.oci.image.manifest.v1+json',
      });
      return digest;
    });
    this.indexes.set(index, digests);
    return index;
  }

  platformsOf(key: EvidenceKey): Promise<readonly Digest[] | 'none' | 'unresolved'> {
    return Promise.resolve(this.indexes.get(key.digest) ?? 'none');
  }

  evidence(key: EvidenceKey, policies: readonly ReadyPolicy[]): Promise<Evidence> {
    this.fetched.push({ key, policies: policies.map((p) => p.name) });
    if (this.evidenceFailure !== undefined) return Promise.reject(this.evidenceFailure);
    const evidence = this.evidenceOf.get(key.digest);
    return evidence === undefined
      ? Promise.reject(new RegistryError('Unavailable', `nothing prepared for ${key.digest}`))
      : Promise.resolve(evidence);
  }

  evaluate(evidence: Evidence, policy: ReadyPolicy, at: Date): PolicyVerdict {
    return this.evaluator.evaluate(evidence, policy, at);
  }
}

const policy = (name: string, extra: Record<string, unknown> = {}): ReadyPolicy =>
  ready(
    {
      mode: 'Enforce',
      match: { images: ['registry.example/**'] },
      authorities: [keyAuthority('release', key)],
      ...extra,
    },
    name,
  );

function pod(
  images: readonly string[],
  namespace = 'shop',
  labels: Record<string, string> = {},
): PodTemplate {
  const t = podTemplate({ group: '', version: 'v1', kind: 'Pod' }, namespace, {
    metadata: { name: 'p', labels },
    spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image })) },
  });
  if (t === undefined) throw new Error('expected a template');
  return t;
}

function run(
  registry: PreparedRegistry,
  policies: readonly CompiledPolicy[],
  template: PodTemplate,
  world: Partial<AdmissionWorld> = {},
): Promise<AdmissionDecision> {
  return decide({
    template,
    containers: template.containers,
    world: { policies, operatorNamespace, namespaceLabels: {}, ...world },
    judge: registry,
    now,
    signal: new AbortController().signal,
  });
}

const summary = (d: AdmissionDecision): string[] =>
  d.results.map((r) => `${r.policy} ${r.image} ${r.verdict} ${r.reasons.join(',')} ${r.effect}`);

const app = 'registry.example/shop/cart:1';

describe('admission decision', () => {
  let registry: PreparedRegistry;
  beforeEach(() => {
    registry = new PreparedRegistry();
  });

  describe('what each verdict does', () => {
    it('Enforce refuses an unsigned image, naming SignatureMissing', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('enforce')], pod([app]));
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([`enforce ${app} NonCompliant SignatureMissing Deny`]);
      expect(validationAnswer(d).message).to.include(`${app} (sha256:`).and.include('SignatureMissing');
    });

    it('Enforce admits a signed image', async () => {
      const digest = registry.publish(app);
      const d = await run(registry, [policy('enforce')], pod([app]));
      expect(d.allowed).to.equal(true);
      expect(summary(d)).to.deep.equal([`enforce ${app} Compliant  Allow`]);
      expect(d.results[0]?.digest).to.equal(digest);
      expect(validationAnswer(d).warnings).to.deep.equal([]);
    });

    it('judges an index by match.signatureOn: its platform manifests count unless it is index', async () => {
      registry.publishIndex(app, ['signed', 'signed']);
      const either = await run(registry, [policy('either')], pod([app]));
      expect(summary(either)).to.deep.equal([`either ${app} Compliant  Allow`]);
      const platform = await run(
        registry,
        [policy('platform', { match: { images: ['registry.example/**'], signatureOn: 'platform' } })],
        pod([app]),
      );
      expect(summary(platform)).to.deep.equal([`platform ${app} Compliant  Allow`]);
      const index = await run(
        registry,
        [policy('index', { match: { images: ['registry.example/**'], signatureOn: 'index' } })],
        pod([app]),
      );
      expect(summary(index)).to.deep.equal([`index ${app} NonCompliant SignatureMissing Deny`]);
      // One platform unsigned: the index passes only if it carries a signature itself.
      const other = 'registry.example/shop/other:1';
      registry.publishIndex(other, ['signed', 'unsigned']);
      const mixed = await run(
        registry,
        [policy('platform', { match: { images: ['registry.example/**'], signatureOn: 'platform' } })],
        pod([other]),
      );
      expect(summary(mixed)).to.deep.equal([`platform ${other} NonCompliant SignatureMissing Deny`]);
    });

    it('Audit admits an unsigned image with a warning', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('audit', { mode: 'Audit' })], pod([app]));
      expect(d.allowed).to.equal(true);
      expect(summary(d)).to.deep.equal([`audit ${app} NonCompliant SignatureMissing Warn`]);
      expect(validationAnswer(d).warnings[0]).to.include('SignatureMissing');
    });

    it('Enforce with onUnknown Deny (the default) refuses an Unknown image', async () => {
      registry.publish(app, 'sig-unavailable');
      const d = await run(registry, [policy('enforce')], pod([app]));
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([`enforce ${app} Unknown RegistryUnavailable Deny`]);
    });

    it('Enforce with onUnknown Allow admits an Unknown image with a warning', async () => {
      registry.publish(app, 'sig-unavailable');
      const d = await run(registry, [policy('lenient', { admission: { onUnknown: 'Allow' } })], pod([app]));
      expect(d.allowed).to.equal(true);
      expect(summary(d)).to.deep.equal([`lenient ${app} Unknown RegistryUnavailable Warn`]);
      expect(validationAnswer(d).warnings).to.have.length(1);
    });

    it('Audit warns about an Unknown image whatever onUnknown says', async () => {
      registry.publish(app, 'sig-unavailable');
      const d = await run(
        registry,
        [policy('audit', { mode: 'Audit', admission: { onUnknown: 'Deny' } })],
        pod([app]),
      );
      expect(d.allowed).to.equal(true);
      expect(summary(d)).to.deep.equal([`audit ${app} Unknown RegistryUnavailable Warn`]);
    });

    it('admits an image under an exception, saying why', async () => {
      registry.publish(app, 'unsigned');
      const exempting = policy('enforce', {
        exceptions: [
          { images: ['registry.example/shop/cart'], reason: 'SEC-142', expires: '2027-01-01T00:00:00Z' },
        ],
      });
      const d = await run(registry, [exempting], pod([app]));
      expect(d.allowed).to.equal(true);
      expect(summary(d)).to.deep.equal([`enforce ${app} Exempt  Allow`]);
      expect(d.results[0]?.message).to.equal('exempt: SEC-142');
    });

    it('refuses when one of two policies refuses, and judges each on one fetch', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('audit', { mode: 'Audit' }), policy('enforce')], pod([app]));
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.have.members([
        `audit ${app} NonCompliant SignatureMissing Warn`,
        `enforce ${app} NonCompliant SignatureMissing Deny`,
      ]);
      expect(registry.fetched.map((f) => f.policies)).to.deep.equal([['audit', 'enforce']]);
    });
  });

  describe('which policies judge', () => {
    it('applies no policy whose admission is disabled', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('runtime-only', { admission: { enabled: false } })], pod([app]));
      expect([d.allowed, d.results, d.notes]).to.deep.equal([true, [], []]);
      expect(registry.resolved).to.deep.equal([]);
    });

    it('notes a policy that is not ready and matches an image, and applies it to nothing', async () => {
      registry.publish(app, 'unsigned');
      const broken = compile(
        {
          mode: 'Enforce',
          match: { images: ['registry.example/**'] },
          authorities: [{ name: 'k', key: { publicKey: 'x' } }],
        },
        'broken',
      );
      expect(broken.ready).to.equal(false);
      const d = await run(registry, [broken], pod([app]));
      expect(d.allowed).to.equal(true);
      expect(d.results).to.deep.equal([]);
      expect(d.notes).to.deep.equal(['ImagePolicy broken is not ready and was not applied']);
      // Besides a ready policy, the note rides along with that policy's verdict.
      const both = await run(registry, [broken, policy('enforce')], pod([app]));
      expect(both.notes).to.have.length(1);
      expect(summary(both)).to.deep.equal([`enforce ${app} NonCompliant SignatureMissing Deny`]);
    });

    it('holds a valid policy whose key Secret is missing as Unknown PolicyNotReady, as onUnknown says', async () => {
      registry.publish(app, 'signed');
      const missingKey = (name: string, extra: Record<string, unknown> = {}): CompiledPolicy =>
        compile(
          {
            mode: 'Enforce',
            match: { images: ['registry.example/**'] },
            authorities: [{ name: 'k', key: { secretRef: { name: 'deleted', key: 'cosign.pub' } } }],
            ...extra,
          },
          name,
        );
      const deny = missingKey('deny');
      expect(deny.ready).to.equal(false);
      const d = await run(
        registry,
        [
          deny,
          missingKey('allow', { admission: { onUnknown: 'Allow' } }),
          missingKey('audit', { mode: 'Audit' }),
        ],
        pod([app]),
      );
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([
        `deny ${app} Unknown PolicyNotReady Deny`,
        `allow ${app} Unknown PolicyNotReady Warn`,
        `audit ${app} Unknown PolicyNotReady Warn`,
      ]);
      expect(d.results[0]?.message).to.include('deleted');
      // Out of its scope it judges nothing.
      const elsewhere = await run(registry, [deny], pod([app], 'kube-system'));
      expect(elsewhere.results).to.deep.equal([]);
    });

    it('refuses under Enforce an image whose digest is not sha256 (the kubelet pulls it; Sigwatch cannot verify it)', async () => {
      const sha512 = `registry.example/shop/cart@sha512:${'ab'.repeat(64)}`;
      const d = await run(
        registry,
        [policy('lenient', { admission: { onUnknown: 'Allow' } })],
        pod([sha512]),
      );
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([`lenient ${sha512} Unknown DigestUnresolved Deny`]);
      expect(d.results[0]?.message).to.include('sha256');
      // A policy that does not match the name is not concerned: noted only.
      const other = await run(
        registry,
        [policy('other', { match: { images: ['elsewhere.example/**'] } })],
        pod([sha512]),
      );
      expect(other.allowed).to.equal(true);
      expect(other.notes).to.have.length(1);
    });

    it('does not note a policy that is not ready when it matches no image', async () => {
      const broken = compile(
        {
          match: { images: ['elsewhere.example/**'] },
          authorities: [{ name: 'k', key: { publicKey: 'x' } }],
        },
        'broken',
      );
      const d = await run(registry, [broken], pod([app]));
      expect(d.notes).to.deep.equal([]);
    });

    it('neither resolves nor fetches an image no policy matches', async () => {
      const d = await run(registry, [policy('enforce')], pod(['other.example/app:1']));
      expect([d.allowed, d.results]).to.deep.equal([true, []]);
      expect(registry.resolved).to.deep.equal([]);
      expect(registry.fetched).to.deep.equal([]);
    });

    const selective = (): ReadyPolicy =>
      policy('prod', {
        match: { images: ['registry.example/**'], namespaceSelector: { matchLabels: { env: 'prod' } } },
      });

    it('applies a namespace selector to the namespace labels', async () => {
      registry.publish(app, 'unsigned');
      const prod = await run(registry, [selective()], pod([app]), { namespaceLabels: { env: 'prod' } });
      expect(summary(prod)).to.deep.equal([`prod ${app} NonCompliant SignatureMissing Deny`]);
      const dev = await run(registry, [selective()], pod([app]), { namespaceLabels: { env: 'dev' } });
      expect([dev.allowed, dev.results]).to.deep.equal([true, []]);
    });

    it('does not apply a namespace selector while the namespace labels are unknown', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [selective()], pod([app]), { namespaceLabels: undefined });
      expect([d.allowed, d.results]).to.deep.equal([true, []]);
      // A policy without a selector still judges there.
      const plain = await run(registry, [policy('enforce')], pod([app]), { namespaceLabels: undefined });
      expect(plain.allowed).to.equal(false);
    });

    it('applies a pod selector to the template labels', async () => {
      registry.publish(app, 'unsigned');
      const web = policy('web', {
        match: { images: ['registry.example/**'], podSelector: { matchLabels: { tier: 'web' } } },
      });
      expect((await run(registry, [web], pod([app], 'shop', { tier: 'web' }))).allowed).to.equal(false);
      expect((await run(registry, [web], pod([app], 'shop', { tier: 'db' }))).allowed).to.equal(true);
    });

    for (const namespace of [operatorNamespace, 'kube-system', 'kube-public', 'kube-node-lease'])
      it(`never judges ${namespace} unless the policy includes system namespaces`, async () => {
        registry.publish(app, 'unsigned');
        const d = await run(registry, [policy('enforce')], pod([app], namespace));
        expect([d.allowed, d.results]).to.deep.equal([true, []]);
        expect(registry.resolved).to.deep.equal([]);
        const including = policy('system', {
          match: { images: ['registry.example/**'], includeSystemNamespaces: true },
        });
        const judged = await run(registry, [including], pod([app], namespace));
        expect(summary(judged)).to.deep.equal([`system ${app} NonCompliant SignatureMissing Deny`]);
      });
  });

  describe('tags and digests', () => {
    it('resolves a tag and reports the digest for pinning', async () => {
      const digest = registry.publish(app);
      const d = await run(registry, [policy('enforce')], pod([app]));
      expect(registry.resolved).to.deep.equal([app]);
      expect([...d.resolved]).to.deep.equal([[app, digest]]);
      expect(registry.fetched.map((f) => f.key)).to.deep.equal([
        { registry: 'registry.example', repository: 'shop/cart', digest },
      ]);
    });

    it('judges a digest reference without resolving anything and reports nothing to pin', async () => {
      const digest = registry.publish(app);
      const byDigest = `registry.example/shop/cart@${digest}`;
      const d = await run(registry, [policy('enforce')], pod([byDigest]));
      expect(registry.resolved).to.deep.equal([]);
      expect(d.resolved.size).to.equal(0);
      expect(summary(d)).to.deep.equal([`enforce ${byDigest} Compliant  Allow`]);
    });

    it('is Unknown DigestUnresolved for a tag the registry does not have', async () => {
      const d = await run(registry, [policy('enforce')], pod(['registry.example/shop/cart:nope']));
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([
        'enforce registry.example/shop/cart:nope Unknown DigestUnresolved Deny',
      ]);
      expect(d.results[0]?.message).to.include('nope');
      expect(d.results[0]?.digest).to.equal(undefined);
      expect(registry.fetched).to.deep.equal([]);
    });

    it('refuses a tag the registry does not have even when onUnknown is Allow (a definite answer)', async () => {
      const d = await run(
        registry,
        [policy('lenient', { admission: { onUnknown: 'Allow' } })],
        pod(['registry.example/shop/cart:nope']),
      );
      expect(summary(d)).to.deep.equal([
        'lenient registry.example/shop/cart:nope Unknown DigestUnresolved Deny',
      ]);
    });

    it('notes an image that is not a reference and judges the rest', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('enforce')], pod(['Registry.Example/SHOP/Cart:1', app]));
      expect(d.notes).to.have.length(1);
      expect(d.notes[0]).to.include('"Registry.Example/SHOP/Cart:1" is not an image reference');
      expect(summary(d)).to.deep.equal([`enforce ${app} NonCompliant SignatureMissing Deny`]);
    });

    it('judges an image used by several containers once', async () => {
      registry.publish(app, 'unsigned');
      const d = await run(registry, [policy('enforce')], pod([app, app, app]));
      expect(d.results).to.have.length(1);
      expect(d.results[0]?.container).to.equal('c0');
      expect(registry.resolved).to.deep.equal([app]);
    });
  });

  describe('registry failures are Unknown, never a definite verdict', () => {
    const rows: [string, Error, string][] = [
      ...(
        [
          ['Unavailable', 'RegistryUnavailable'],
          ['RedirectRefused', 'RegistryUnavailable'],
          ['Unauthorized', 'RegistryUnauthorized'],
          ['CredentialsWithheld', 'RegistryUnauthorized'],
          ['RateLimited', 'RateLimited'],
          ['LimitExceeded', 'EvidenceIncomplete'],
          ['DigestMismatch', 'EvidenceIncomplete'],
          ['ProtocolError', 'EvidenceIncomplete'],
          ['InvalidReference', 'DigestUnresolved'],
        ] as [RegistryErrorCode, string][]
      ).map(([code, reason]): [string, Error, string] => [
        `RegistryError ${code}`,
        new RegistryError(code, 'failed'),
        reason,
      ]),
      ['a timeout', new DOMException('timed out', 'TimeoutError'), 'RegistryUnavailable'],
      ['an abort', new DOMException('aborted', 'AbortError'), 'RegistryUnavailable'],
      ['any other error', new TypeError('boom'), 'EvidenceIncomplete'],
    ];
    for (const [name, error, reason] of rows) {
      it(`resolving: ${name} → ${reason}`, async () => {
        registry.resolveFailure = error;
        const d = await run(registry, [policy('enforce'), policy('audit', { mode: 'Audit' })], pod([app]));
        expect(summary(d)).to.have.members([
          `enforce ${app} Unknown ${reason} Deny`,
          `audit ${app} Unknown ${reason} Warn`,
        ]);
        expect(d.allowed).to.equal(false);
      });

      it(`fetching evidence: ${name} → ${reason}, with the digest`, async () => {
        const digest = registry.publish(app);
        registry.evidenceFailure = error;
        const d = await run(registry, [policy('lenient', { admission: { onUnknown: 'Allow' } })], pod([app]));
        expect(summary(d)).to.deep.equal([`lenient ${app} Unknown ${reason} Warn`]);
        expect(d.results[0]?.digest).to.equal(digest);
        expect(d.allowed).to.equal(true);
      });
    }
  });

  describe('bounds', () => {
    const images = (n: number): string[] =>
      Array.from({ length: n }, (_, i) => `registry.example/shop/app${String(i)}:1`);

    it(`judges ${String(maxImagesPerRequest)} distinct images, at most 8 at once`, async () => {
      const all = images(maxImagesPerRequest);
      for (const image of all) registry.publish(image);
      // Repeats do not count against the bound.
      const d = await run(registry, [policy('enforce')], pod([...all, ...all.slice(0, 10)]));
      expect(d.allowed).to.equal(true);
      expect(d.results).to.have.length(maxImagesPerRequest);
      expect(d.results.every((r) => r.verdict === 'Compliant')).to.equal(true);
      expect(registry.maxRunning).to.be.within(2, 8);
    });

    it('judges one distinct image more as a whole: Unknown for each policy, nothing fetched', async () => {
      const d = await run(
        registry,
        [policy('enforce'), policy('lenient', { admission: { onUnknown: 'Allow' } })],
        pod(images(maxImagesPerRequest + 1)),
      );
      expect(d.allowed).to.equal(false);
      expect(summary(d)).to.deep.equal([
        'enforce * Unknown EvidenceIncomplete Deny',
        // More images than are judged is no outage: refused whatever onUnknown says.
        'lenient * Unknown EvidenceIncomplete Deny',
      ]);
      expect(d.results[0]?.message).to.include(String(maxImagesPerRequest + 1));
      expect(registry.resolved).to.deep.equal([]);
    });
  });
});
