import { expect } from 'chai';
import type { Digest } from '../../../../src/base/digest.js';
import type { Verdict } from '../../../../src/policy/verdict.js';
import type { RelatedAnswer, TagTarget } from '../../../../src/operator/evidence/related-digests.js';
import {
  predictReplacement,
  type ReplacementLookups,
} from '../../../../src/operator/evictions/replacement.js';

const d = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const running = d('a');

function lookups(
  o: {
    platforms?: Record<string, RelatedAnswer<readonly Digest[]>>;
    tags?: Record<string, RelatedAnswer<TagTarget>>;
    verdicts?: Record<string, Verdict>;
  } = {},
): ReplacementLookups {
  return {
    platformsOf: (_repo, digest) => o.platforms?.[digest] ?? 'none',
    tagTarget: (repo, tag) => o.tags?.[`${repo.repository}:${tag}`] ?? 'unresolved',
    verdictOf: (_repo, digest) => o.verdicts?.[digest],
  };
}

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
      expect(predictReplacement([{ running, templateImage: c.template }], c.look)).to.equal(c.want);
    });
  }

  it('is different only when every failing container would come back different', () => {
    const look = lookups({
      tags: { 'app:2': { digest: d('b'), listed: [] } },
      verdicts: { [d('b')]: 'Compliant' },
    });
    const fixed = { running, templateImage: 'reg.test/app:2' };
    expect(
      predictReplacement([fixed, { running: d('e'), templateImage: `reg.test/side@${d('f')}` }], look),
    ).to.equal('different');
    expect(
      predictReplacement([fixed, { running: d('e'), templateImage: `reg.test/side@${d('e')}` }], look),
    ).to.equal('same');
    expect(predictReplacement([fixed, { running: d('e'), templateImage: undefined }], look)).to.equal(
      'unknown',
    );
    expect(predictReplacement([], look)).to.equal('unknown');
  });
});
