import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import {
  loopConditionMessage,
  loopEventMessage,
  wouldFailAgain,
  wouldNotHelpMessage,
} from '../../../../src/operator/evictions/messages.js';

// The README's Evictions section quotes every eviction text with <placeholders>: a changed word fails here.
describe('operator eviction texts as the README quotes them', () => {
  const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
  const texts: Record<string, string> = {
    EvictionWouldNotHelp: wouldNotHelpMessage('<policy>', '<Kind> <name>', '<container>', '<cause>'),
    nodeAgain: wouldFailAgain.nodeAgain('<node>', '<repo:tag>', '<digest>', '<pullPolicy>'),
    nodeFails: wouldFailAgain.nodeFails('<node>', '<repo:tag>', '<digest>', '<pullPolicy>'),
    nodeUnlisted: wouldFailAgain.nodeUnlisted('<node>', '<n>', '<repo:tag>', '<pullPolicy>'),
    tagSame: wouldFailAgain.tagSame('<repo:tag>', '<digest>'),
    tagFails: wouldFailAgain.tagFails('<repo:tag>', '<digest>'),
    pinnedSame: wouldFailAgain.pinnedSame('<digest>'),
    pinnedIndex: wouldFailAgain.pinnedIndex('<digest>'),
    EvictionLoop: loopEventMessage({
      policy: '<policy>',
      workload: '<Kind> <name>',
      evictedPod: '<pod>',
      evictedAt: '<time>',
      digest: '<digest>',
      reasons: ['<reasons>'],
    }),
    'EvictionLoop condition': loopConditionMessage([
      { workload: '<Kind> <namespace>/<name>', pod: '<pod>', digest: '<digest>' },
    ]).replace('for 1 workload(s)', 'for <n> workload(s)'),
  };
  for (const [name, text] of Object.entries(texts)) {
    it(`quotes ${name} word for word`, () => {
      expect(readme).to.contain(`\n${text}\n`);
    });
  }

  it('names at most five stopped workloads in the condition', () => {
    const stopped = Array.from({ length: 7 }, (_, i) => ({
      workload: `Deployment ns/w${String(i)}`,
      pod: `p${String(i)}`,
      digest: 'sha256:x',
    }));
    const message = loopConditionMessage(stopped);
    expect(message).to.match(/^evictions stopped for 7 workload\(s\)/);
    expect(message).to.contain('w4 (replacement p4').and.contain(' and 2 more;');
    expect(message).not.to.contain('w5 (');
  });
});
