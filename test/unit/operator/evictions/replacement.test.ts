import { expect } from 'chai';
import type { Digest } from '../../../../src/base/digest.js';
import type { Verdict } from '../../../../src/policy/verdict.js';
import type { RelatedAnswer, TagTarget } from '../../../../src/operator/evidence/related-digests.js';
import {
  predictReplacement,
  type FailingContainer,
  type ReplacementLookups,
} from '../../../../src/operator/evictions/replacement.js';
import { indexNodeImages, type NodeImageIndex } from '../../../../src/operator/evictions/node-images.js';
import { wouldFailAgain } from '../../../../src/operator/evictions/messages.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const running = d('a');

function lookups(
  o: {
    platforms?: Record<string, RelatedAnswer<readonly Digest[]>>;
    tags?: Record<string, RelatedAnswer<TagTarget>>;
    verdicts?: Record<string, Verdict>;
    nodes?: Record<string, RelatedAnswer<NodeImageIndex>>;
    tagDue?: number;
    nodeDue?: number;
  } = {},
): ReplacementLookups {
  return {
    platformsOf: (_repo, digest) => o.platforms?.[digest] ?? 'none',
    tagTarget: (repo, tag) => o.tags?.[`${repo.repository}:${tag}`] ?? 'unresolved',
    tagDueAt: () => o.tagDue,
    nodeImages: (node) => o.nodes?.[node] ?? 'unresolved',
    nodeDueAt: () => o.nodeDue,
    verdictOf: (_repo, digest) => o.verdicts?.[digest],
  };
}

const one = (templateImage: string | undefined, pullPolicy?: string): FailingContainer[] => [
  { container: 'app', running, templateImage, ...(pullPolicy === undefined ? {} : { pullPolicy }) },
];

describe('operator replacement prediction', () => {
  const cases: {
    name: string;
    template: string | undefined;
    look: ReplacementLookups;
    want: 'same' | 'different' | 'unknown';
  }[] = [
    {
      name: 'template pins the running digest',
      template: `reg.test/app@${running}`,
      look: lookups(),
      want: 'same',
    },
    {
      name: 'template pins the same digest in another repository (content address)',
      template: `mirror.test/app@${running}`,
      look: lookups(),
      want: 'same',
    },
    {
      name: 'template pins another single manifest',
      template: `reg.test/app@${d('b')}`,
      look: lookups(),
      want: 'different',
    },
    {
      name: 'template pins an index that lists the running platform manifest',
      template: `reg.test/app@${d('c')}`,
      look: lookups({ platforms: { [d('c')]: [d('b'), running] } }),
      want: 'same',
    },
    {
      name: 'template pins a digest the registry does not have',
      template: `reg.test/app@${d('c')}`,
      look: lookups({ platforms: { [d('c')]: 'unresolved' } }),
      want: 'unknown',
    },
    {
      name: 'template pins an index not yet fetched',
      template: `reg.test/app@${d('c')}`,
      look: lookups({ platforms: { [d('c')]: 'pending' } }),
      want: 'unknown',
    },
    {
      name: 'tag resolves to the running digest',
      template: 'reg.test/app:1.0',
      look: lookups({ tags: { 'app:1.0': { digest: running, listed: [] } } }),
      want: 'same',
    },
    {
      name: 'tag resolves to an index listing the running digest',
      template: 'reg.test/app:1.0',
      look: lookups({ tags: { 'app:1.0': { digest: d('c'), listed: [running] } } }),
      want: 'same',
    },
    {
      name: 'tag moved to a Compliant digest',
      template: 'reg.test/app:1.0',
      look: lookups({
        tags: { 'app:1.0': { digest: d('b'), listed: [] } },
        verdicts: { [d('b')]: 'Compliant' },
      }),
      want: 'different',
    },
    {
      name: 'tag moved to an Exempt digest',
      template: 'reg.test/app',
      look: lookups({
        tags: { 'app:latest': { digest: d('b'), listed: [] } },
        verdicts: { [d('b')]: 'Exempt' },
      }),
      want: 'different',
    },
    {
      name: 'tag moved to another NonCompliant digest',
      template: 'reg.test/app:1.0',
      look: lookups({
        tags: { 'app:1.0': { digest: d('b'), listed: [] } },
        verdicts: { [d('b')]: 'NonCompliant' },
      }),
      want: 'same',
    },
    {
      name: 'tag moved to a digest whose evidence is still being fetched',
      template: 'reg.test/app:1.0',
      look: lookups({ tags: { 'app:1.0': { digest: d('b'), listed: [] } } }),
      want: 'unknown',
    },
    {
      name: 'tag moved to a digest judged Unknown (registry down)',
      template: 'reg.test/app:1.0',
      look: lookups({
        tags: { 'app:1.0': { digest: d('b'), listed: [] } },
        verdicts: { [d('b')]: 'Unknown' },
      }),
      want: 'unknown',
    },
    {
      name: 'tag lookup failed',
      template: 'reg.test/app:1.0',
      look: lookups({ tags: { 'app:1.0': 'failed' } }),
      want: 'unknown',
    },
    {
      name: 'tag is gone (the replacement could not pull)',
      template: 'reg.test/app:1.0',
      look: lookups(),
      want: 'unknown',
    },
    { name: 'template lacks the container', template: undefined, look: lookups(), want: 'unknown' },
    { name: 'template image does not parse', template: 'Not An Image!', look: lookups(), want: 'unknown' },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, () => {
      expect(predictReplacement(one(c.template), c.look).replacement).to.equal(c.want);
    });
  }

  it('is different only when every failing container would come back different', () => {
    const look = lookups({
      tags: { 'app:2': { digest: d('b'), listed: [] } },
      verdicts: { [d('b')]: 'Compliant' },
    });
    const fixed = { container: 'app', running, templateImage: 'reg.test/app:2' };
    const side = (templateImage: string | undefined): FailingContainer => ({
      container: 'side',
      running: d('e'),
      templateImage,
    });
    const replacement = (failing: FailingContainer[]): string =>
      predictReplacement(failing, look).replacement;
    expect(replacement([fixed, side(`reg.test/side@${d('f')}`)])).to.equal('different');
    expect(replacement([fixed, side(`reg.test/side@${d('e')}`)])).to.equal('same');
    expect(replacement([fixed, side(undefined)])).to.equal('unknown');
    expect(replacement([])).to.equal('unknown');
  });
});

describe('operator replacement prediction from the node', () => {
  const compliantTag = {
    'app:1.0': { digest: d('b'), listed: [] },
    'app:latest': { digest: d('b'), listed: [] },
  };
  const registry = { tags: compliantTag, verdicts: { [d('b')]: 'Compliant' as Verdict } };
  const node = (images: readonly (readonly string[])[]): NodeImageIndex =>
    indexNodeImages({ status: { images: images.map((names) => ({ names, sizeBytes: 1000 })) } });
  const others = (n: number): string[][] =>
    Array.from({ length: n }, (_, i) => [
      `reg.test/other${String(i)}:1`,
      `reg.test/other${String(i)}@${d('9')}`,
    ]);
  const holding = (digest: Digest, tag = 'reg.test/app:1.0'): string[] => [tag, `reg.test/app@${digest}`];
  const predict = (
    template: string,
    nodes: Record<string, RelatedAnswer<NodeImageIndex>>,
    extra: Parameters<typeof lookups>[0] = {},
    pullPolicy?: string,
  ) => predictReplacement(one(template, pullPolicy), lookups({ ...registry, ...extra, nodes }), 'node-1');

  it('IfNotPresent and the node holding the tag as the failing digest → same, and the Event says why', () => {
    const p = predict('reg.test/app:1.0', { 'node-1': node([holding(running), ...others(3)]) });
    expect(p.replacement).to.equal('same');
    expect(p.cause).to.deep.equal({
      container: 'app',
      text: `node node-1 holds reg.test/app:1.0 as ${running} (imagePullPolicy IfNotPresent): a replacement there would run it again; pin the digest, set imagePullPolicy: Always, or remove the image from the node`,
    });
    expect(p.images).to.deep.equal([{ container: 'app', image: 'reg.test/app:1.0', nodeImage: running }]);
  });

  it('an explicit IfNotPresent on :latest reads the node too', () => {
    const p = predict(
      'reg.test/app',
      { 'node-1': node([holding(running, 'reg.test/app:latest')]) },
      {},
      'IfNotPresent',
    );
    expect(p.replacement).to.equal('same');
  });

  const cases: {
    name: string;
    template: string;
    pullPolicy?: string;
    nodes: Record<string, RelatedAnswer<NodeImageIndex>>;
    extra?: Parameters<typeof lookups>[0];
    want: 'same' | 'different' | 'unknown';
    nodeImage?: string;
  }[] = [
    {
      name: 'imagePullPolicy Always pulls the tag: the registry decides',
      template: 'reg.test/app:1.0',
      pullPolicy: 'Always',
      nodes: { 'node-1': node([holding(running)]) },
      want: 'different',
    },
    {
      name: ':latest without a policy defaults to Always',
      template: 'reg.test/app:latest',
      nodes: { 'node-1': node([holding(running, 'reg.test/app:latest')]) },
      want: 'different',
    },
    {
      name: 'a digest reference is the same bytes on any node',
      template: `reg.test/app@${d('b')}`,
      nodes: { 'node-1': node([holding(running)]) },
      want: 'different',
    },
    {
      name: 'a list of 49 images without the tag is complete: the registry decides',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': node(others(49)) },
      want: 'different',
      nodeImage: 'absent',
    },
    {
      name: 'the node holds the tag as a Compliant digest',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': node([holding(d('c'))]) },
      extra: { verdicts: { [d('c')]: 'Compliant' } },
      want: 'different',
      nodeImage: d('c'),
    },
    {
      name: 'the node holds the tag as a digest still being judged',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': node([holding(d('c'))]) },
      want: 'unknown',
      nodeImage: d('c'),
    },
    {
      name: 'the node holds the tag as an index that lists the running digest',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': node([holding(d('c'))]) },
      extra: { platforms: { [d('c')]: [running] } },
      want: 'same',
      nodeImage: d('c'),
    },
    {
      name: 'the node lists the tag without a repository digest',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': node([['reg.test/app:1.0']]) },
      want: 'unknown',
    },
    {
      name: 'the node is still being read',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': 'pending' },
      want: 'unknown',
    },
    {
      name: 'the node could not be read',
      template: 'reg.test/app:1.0',
      nodes: { 'node-1': 'failed' },
      want: 'unknown',
    },
    {
      name: 'the node is gone (the replacement goes elsewhere): the registry decides',
      template: 'reg.test/app:1.0',
      nodes: {},
      want: 'different',
    },
    {
      name: 'imagePullPolicy Never without the node holding the tag cannot start',
      template: 'reg.test/app:1.0',
      pullPolicy: 'Never',
      nodes: { 'node-1': node(others(2)) },
      want: 'unknown',
    },
    {
      name: 'Docker Hub names are compared canonically',
      template: 'nginx:1.25',
      nodes: { 'node-1': node([['docker.io/library/nginx:1.25', `docker.io/library/nginx@${running}`]]) },
      want: 'same',
      nodeImage: running,
    },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, () => {
      const p = predict(c.template, c.nodes, c.extra, c.pullPolicy);
      expect(p.replacement).to.equal(c.want);
      expect(p.images[0]?.nodeImage).to.equal(c.nodeImage);
    });
  }

  it('another failing digest under the tag on the node → same, naming that digest', () => {
    const p = predict(
      'reg.test/app:1.0',
      { 'node-1': node([holding(d('c'))]) },
      {
        verdicts: { [d('c')]: 'NonCompliant' },
      },
    );
    expect(p.replacement).to.equal('same');
    expect(p.cause?.text).to.equal(
      wouldFailAgain.nodeFails('node-1', 'reg.test/app:1.0', d('c'), 'IfNotPresent'),
    );
  });

  it('a full list of 50 without the tag cannot say what the node holds → same (no eviction), and says so', () => {
    const p = predict('reg.test/app:1.0', { 'node-1': node(others(50)) });
    expect(p.replacement).to.equal('same');
    expect(p.cause?.text).to.equal(
      'node node-1 lists 50 images, as many as the kubelet reports by default (--node-status-max-images), and not reg.test/app:1.0: it may hold an older copy that a replacement there would run (imagePullPolicy IfNotPresent); pin the digest or set imagePullPolicy: Always',
    );
    expect(p.images[0]?.nodeImage).to.equal('unlisted');
  });

  it('an unbound pod is predicted from the registry alone', () => {
    const p = predictReplacement(
      one('reg.test/app:1.0'),
      lookups({ ...registry, nodes: { 'node-1': 'failed' } }),
    );
    expect(p.replacement).to.equal('different');
    expect(p.images).to.deep.equal([{ container: 'app', image: 'reg.test/app:1.0', tagTarget: d('b') }]);
  });

  it('is judged again when the first tag or node answer it rests on is re-read', () => {
    const nodes = { 'node-1': node(others(2)) };
    expect(predict('reg.test/app:1.0', nodes, { tagDue: 5_000, nodeDue: 3_000 }).recheckAt).to.equal(3_000);
    expect(predict('reg.test/app:1.0', nodes, { tagDue: 5_000, nodeDue: 9_000 }).recheckAt).to.equal(5_000);
    // Always never asks the node; a pinned digest asks neither.
    expect(
      predict('reg.test/app:1.0', nodes, { tagDue: 5_000, nodeDue: 3_000 }, 'Always').recheckAt,
    ).to.equal(5_000);
    expect(predict(`reg.test/app@${d('b')}`, nodes, { tagDue: 5_000, nodeDue: 3_000 }).recheckAt).to.equal(
      undefined,
    );
  });
});
