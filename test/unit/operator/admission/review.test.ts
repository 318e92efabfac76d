import { expect } from 'chai';
import { AdmissionError } from '../../../../src/operator/admission/errors.js';
import type { Digest } from '../../../../src/base/digest.js';
import type { AdmissionDecision, ImageResult } from '../../../../src/operator/admission/judge.js';
import {
  changedContainers,
  pinPatch,
  readReview,
  reviewResponse,
  validationAnswer,
} from '../../../../src/operator/admission/review.js';
import {
  podTemplate,
  type PodTemplate,
  type TemplateContainer,
} from '../../../../src/operator/admission/workloads.js';

const digest = `sha256:${'ab'.repeat(32)}` as Digest;
const other = `sha256:${'cd'.repeat(32)}` as Digest;

function review(request: Record<string, unknown>, top: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      object: { metadata: { name: 'cart' } },
      ...request,
    },
    ...top,
  };
}

const container = (image: string, i = 0): TemplateContainer => ({
  name: `c${String(i)}`,
  kind: 'container',
  image,
  pointer: `/spec/containers/${String(i)}/image`,
});

function pod(images: readonly string[]): PodTemplate {
  const t = podTemplate({ group: '', version: 'v1', kind: 'Pod' }, 'shop', {
    metadata: { name: 'p' },
    spec: { containers: images.map((image, i) => ({ name: `c${String(i)}`, image })) },
  });
  if (t === undefined) throw new Error('expected a template');
  return t;
}

function result(overrides: Partial<ImageResult> = {}): ImageResult {
  return {
    policy: 'signed',
    container: 'app',
    image: 'registry.example/shop/cart:1',
    digest,
    verdict: 'NonCompliant',
    reasons: ['SignatureMissing'],
    message: 'no signature by any authority',
    effect: 'Deny',
    ...overrides,
  };
}

const decision = (results: readonly ImageResult[], notes: readonly string[] = []): AdmissionDecision => ({
  allowed: !results.some((r) => r.effect === 'Deny'),
  results,
  notes,
  resolved: new Map(),
});

describe('AdmissionReview', () => {
  describe('readReview', () => {
    it('reads the request kubectl sends', () => {
      const r = readReview(review({ dryRun: true, subResource: '' }));
      expect(r).to.deep.equal({
        uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        subResource: undefined,
        namespace: 'shop',
        operation: 'CREATE',
        dryRun: true,
        object: { metadata: { name: 'cart' } },
        oldObject: undefined,
      });
    });

    it('keeps a subresource and reads only a literal true as dry run', () => {
      const r = readReview(
        review({ subResource: 'ephemeralcontainers', operation: 'UPDATE', dryRun: 'true' }),
      );
      expect([r.subResource, r.operation, r.dryRun]).to.deep.equal(['ephemeralcontainers', 'UPDATE', false]);
    });

    it('reads a missing or non-string namespace as none (cluster-scoped)', () => {
      expect(readReview(review({ namespace: undefined })).namespace).to.equal('');
      expect(readReview(review({ namespace: 7 })).namespace).to.equal('');
    });

    it('accepts a 128-character uid', () => {
      expect(readReview(review({ uid: 'u'.repeat(128) })).uid).to.have.length(128);
    });

    const hostile: [string, unknown][] = [
      ['null', null],
      ['an array', [review({})]],
      ['a string', JSON.stringify(review({}))],
      ['admission.k8s.io/v1beta1', review({}, { apiVersion: 'admission.k8s.io/v1beta1' })],
      ['another kind', review({}, { kind: 'ConversionReview' })],
      ['no request', review({}, { request: undefined })],
      ['a request that is an array', review({}, { request: [{ uid: 'u' }] })],
      ['a request that is a string', review({}, { request: 'uid' })],
      ['no uid', review({ uid: undefined })],
      ['an empty uid', review({ uid: '' })],
      ['a numeric uid', review({ uid: 42 })],
      ['a 129-character uid', review({ uid: 'u'.repeat(129) })],
      ['no kind', review({ kind: undefined })],
      ['a kind that is a string', review({ kind: 'Pod' })],
      ['a kind without group', review({ kind: { version: 'v1', kind: 'Pod' } })],
      ['a kind with a numeric version', review({ kind: { group: '', version: 1, kind: 'Pod' } })],
      ['an unknown operation', review({ operation: 'PATCH' })],
      ['an operation in lower case', review({ operation: 'create' })],
      ['no operation', review({ operation: undefined })],
    ];
    for (const [name, body] of hostile)
      it(`refuses ${name}`, () => {
        expect(() => readReview(body)).to.throw(AdmissionError);
      });
  });

  describe('changedContainers', () => {
    it('judges every container of a create', () => {
      const t = pod(['a:1', 'b:1']);
      expect(changedContainers(t, undefined).map((c) => c.image)).to.deep.equal(['a:1', 'b:1']);
    });

    it('judges only images an update brings', () => {
      const t = pod(['a:1', 'b:2', 'c:1']);
      expect(changedContainers(t, pod(['a:1', 'b:1'])).map((c) => c.image)).to.deep.equal(['b:2', 'c:1']);
    });

    it('judges nothing when every container keeps its image (scaling, a label)', () => {
      expect(changedContainers(pod(['a:1', 'b:1']), pod(['a:1', 'b:1']))).to.deep.equal([]);
    });

    it('judges an image moved to another container (per container, not per image set)', () => {
      // c0 ran a:1 and c1 b:1; now c0 runs b:1 and c1 a:1: both are judged again.
      expect(changedContainers(pod(['b:1', 'a:1']), pod(['a:1', 'b:1'])).map((c) => c.name)).to.deep.equal([
        'c0',
        'c1',
      ]);
      expect(
        changedContainers(pod(['x:1', 'a:1']), pod(['a:1'])).map((c) => `${c.name}=${c.image}`),
      ).to.deep.equal(['c0=x:1', 'c1=a:1']);
    });
  });

  describe('validationAnswer', () => {
    it('refuses naming each denied image, its verdict and reasons', () => {
      const answer = validationAnswer(
        decision([
          result(),
          result({
            image: 'registry.example/shop/log:2',
            reasons: ['SbomDeniedPackage', 'SbomTooOld'],
            message: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
          }),
          result({ image: 'registry.example/shop/ok:1', verdict: 'Compliant', reasons: [], effect: 'Allow' }),
        ]),
      );
      expect(answer.allowed).to.equal(false);
      const message = answer.message ?? '';
      expect(message).to.match(/^Sigwatch refused 2 image verdicts: /);
      expect(message).to.include('registry.example/shop/cart:1 (sha256:abababababab…) is NonCompliant');
      expect(message).to.include('under ImagePolicy signed: SignatureMissing');
      expect(message).to.include('registry.example/shop/log:2');
      expect(message).to.include('SbomDeniedPackage, SbomTooOld');
      expect(message).to.include('log4j-core@2.14.1');
      expect(message).not.to.include('shop/ok:1');
      expect(answer.warnings).to.deep.equal([]);
    });

    it('says "verdict" for one, and names an Unknown image without a digest', () => {
      const answer = validationAnswer(
        decision([
          {
            policy: 'signed',
            container: 'app',
            image: 'registry.example/shop/cart:1',
            verdict: 'Unknown',
            reasons: ['DigestUnresolved'],
            message: '',
            effect: 'Deny',
          },
        ]),
      );
      expect(answer.message).to.equal(
        'Sigwatch refused 1 image verdict: registry.example/shop/cart:1 is Unknown under ImagePolicy signed: DigestUnresolved',
      );
    });

    it('admits with a warning per warned result and per note', () => {
      const answer = validationAnswer(
        decision(
          [
            result({ effect: 'Warn', policy: 'audit' }),
            result({ effect: 'Allow', verdict: 'Compliant', reasons: [] }),
          ],
          ['ImagePolicy broken is not ready and was not applied'],
        ),
      );
      expect(answer.allowed).to.equal(true);
      expect(answer.message).to.equal(undefined);
      expect(answer.warnings).to.have.length(2);
      expect(answer.warnings[0]).to.include('is NonCompliant under ImagePolicy audit: SignatureMissing');
      expect(answer.warnings[1]).to.equal('ImagePolicy broken is not ready and was not applied');
    });

    it('cuts each warning at 256 characters', () => {
      const answer = validationAnswer(
        decision([result({ effect: 'Warn', message: 'x'.repeat(1000) })], ['n'.repeat(257)]),
      );
      expect(answer.warnings.map((w) => w.length)).to.deep.equal([256, 256]);
      expect(answer.warnings.every((w) => w.endsWith('…'))).to.equal(true);
    });

    it('keeps a warning of exactly 256 characters whole', () => {
      expect(validationAnswer(decision([], ['n'.repeat(256)])).warnings).to.deep.equal(['n'.repeat(256)]);
    });

    it('shows at most 12 warnings and counts the rest', () => {
      const notes = Array.from({ length: 20 }, (_, i) => `note ${String(i)}`);
      const answer = validationAnswer(decision([], notes));
      expect(answer.warnings).to.have.length(13);
      expect(answer.warnings.slice(0, 12)).to.deep.equal(notes.slice(0, 12));
      expect(answer.warnings[12]).to.equal('(and 8 more)');
    });

    it('shows 12 warnings without a count', () => {
      const notes = Array.from({ length: 12 }, (_, i) => `note ${String(i)}`);
      expect(validationAnswer(decision([], notes)).warnings).to.deep.equal(notes);
    });

    it('keeps warnings beside a refusal', () => {
      const answer = validationAnswer(decision([result(), result({ effect: 'Warn', policy: 'audit' })]));
      expect(answer.allowed).to.equal(false);
      expect(answer.warnings).to.have.length(1);
      expect(answer.message).not.to.include('ImagePolicy audit');
    });

    it('cuts the refusal at 2048 characters', () => {
      const many = Array.from({ length: 64 }, (_, i) =>
        result({ image: `registry.example/shop/app${String(i)}:1`, message: 'm'.repeat(100) }),
      );
      const message = validationAnswer(decision(many)).message ?? '';
      expect(message).to.have.length(2048);
      expect(message).to.match(/^Sigwatch refused 64 image verdicts: registry\.example\/shop\/app0:1 /);
      expect(message.endsWith('…')).to.equal(true);
    });
  });

  describe('pinPatch', () => {
    const rows: [string, string, string | undefined][] = [
      ['a tag on Docker Hub shorthand', 'app:v1', `app@${digest}`],
      ['a tag on a registry with a port', 'localhost:5000/x/app:v1', `localhost:5000/x/app@${digest}`],
      [
        'a registry spelled in upper case, kept as written',
        'Registry.Example:443/x/app:v1',
        `Registry.Example:443/x/app@${digest}`,
      ],
      ['no tag', 'app', `app@${digest}`],
      ['no tag behind a registry port', 'localhost:5000/app', `localhost:5000/app@${digest}`],
      ['an explicit latest', 'docker.io/library/app:latest', `docker.io/library/app@${digest}`],
      ['a repository named like a tag', 'registry.example/latest', `registry.example/latest@${digest}`],
      ['a digest already', `app@${other}`, undefined],
      ['a tag and a digest', `app:v1@${other}`, undefined],
    ];
    for (const [name, image, pinned] of rows)
      it(pinned === undefined ? `leaves ${name} as written` : `pins ${name}`, () => {
        const ops = pinPatch([container(image, 3)], new Map([[image, digest]]));
        expect(ops).to.deep.equal(
          pinned === undefined ? [] : [{ op: 'replace', path: '/spec/containers/3/image', value: pinned }],
        );
      });

    it('pins only images that were resolved, each at its own pointer', () => {
      const containers = [container('a:1', 0), container('b:1', 1), container('a:1', 2)];
      const ops = pinPatch(containers, new Map([['a:1', digest]]));
      expect(ops).to.deep.equal([
        { op: 'replace', path: '/spec/containers/0/image', value: `a@${digest}` },
        { op: 'replace', path: '/spec/containers/2/image', value: `a@${digest}` },
      ]);
    });
  });

  describe('reviewResponse', () => {
    it('admits with the uid, warnings and a base64 JSON Patch', () => {
      const patch = [{ op: 'replace' as const, path: '/spec/containers/0/image', value: `app@${digest}` }];
      const r = reviewResponse('u-1', { allowed: true, warnings: ['w'], patch }) as {
        apiVersion: string;
        kind: string;
        response: Record<string, unknown>;
      };
      expect([r.apiVersion, r.kind]).to.deep.equal(['admission.k8s.io/v1', 'AdmissionReview']);
      expect(r.response['uid']).to.equal('u-1');
      expect(r.response['allowed']).to.equal(true);
      expect(r.response['status']).to.equal(undefined);
      expect(r.response['warnings']).to.deep.equal(['w']);
      expect(r.response['patchType']).to.equal('JSONPatch');
      const decoded = JSON.parse(
        Buffer.from(String(r.response['patch']), 'base64').toString('utf8'),
      ) as unknown;
      expect(decoded).to.deep.equal(patch);
    });

    it('leaves out empty warnings and an empty patch', () => {
      const r = reviewResponse('u-2', { allowed: true, warnings: [], patch: [] }) as { response: object };
      expect(Object.keys(r.response).sort()).to.deep.equal(['allowed', 'uid']);
    });

    it('refuses with 403 Forbidden and the message', () => {
      const r = reviewResponse('u-3', { allowed: false, message: 'Sigwatch refused …', warnings: [] }) as {
        response: Record<string, unknown>;
      };
      expect(r.response['allowed']).to.equal(false);
      expect(r.response['status']).to.deep.equal({
        code: 403,
        reason: 'Forbidden',
        message: 'Sigwatch refused …',
      });
      expect(r.response['patch']).to.equal(undefined);
    });

    it('turns a whole decision into the review kubectl prints', () => {
      const answer = validationAnswer(decision([result()]));
      const r = reviewResponse('u-4', answer) as { response: { status: { message: string } } };
      expect(r.response.status.message).to.include('SignatureMissing');
    });
  });
});
