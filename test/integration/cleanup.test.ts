/**
 * The README's uninstall clean-up (issue 19, item 9), run exactly as
 * written (the block between `cleanup:begin` and `cleanup:end`) with the
 * real kubectl against the real API server: afterwards no pod carries a
 * `sigwatch.dev/` label or annotation, and nothing else on the pods changed.
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { exec } from '../support/exec.js';
import { freshNamespace, kubeConfig } from '../support/kube.js';
import { readmeBlock } from '../support/readme.js';
import { testEnv } from '../support/testenv.js';

/** The shell lines of the README's clean-up block. */
function cleanupCommands(): string[][] {
  return readmeBlock('cleanup')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/));
}

describe('README: uninstall clean-up', function () {
  this.timeout(60_000);

  it('removes every sigwatch.dev label and annotation from pods, and nothing else', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const ns = await freshNamespace('cleanup');
    const marks = {
      labels: { 'sigwatch.dev/compliance': 'noncompliant', app: 'web' },
      annotations: {
        'sigwatch.dev/reasons': 'SignatureMissing',
        'sigwatch.dev/stale': 'true',
        'sigwatch.dev/exempt-by': 'p',
        'sigwatch.dev/noncompliant-since': '2026-12-05T10:00:00.000Z',
        'sigwatch.dev/noncompliant-paused-at': '2026-12-05T10:01:00.000Z',
        team: 'a',
      },
    };
    for (const name of ['marked', 'annotated-only'])
      await core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: {
            name,
            labels: name === 'marked' ? marks.labels : { app: 'web' },
            annotations: marks.annotations,
          },
          spec: { containers: [{ name: 'c', image: 'registry.example/app:1' }] },
        },
      });
    const commands = cleanupCommands();
    expect(commands.length).to.equal(2);
    for (const [cmd, ...args] of commands) {
      expect(cmd).to.equal('kubectl');
      await exec('kubectl', args, { env: { KUBECONFIG: testEnv().kubeconfig }, timeoutMs: 30_000 });
    }
    for (const name of ['marked', 'annotated-only']) {
      const pod = await core.readNamespacedPod({ namespace: ns, name });
      const keys = [
        ...Object.keys(pod.metadata?.labels ?? {}),
        ...Object.keys(pod.metadata?.annotations ?? {}),
      ];
      expect(
        keys.filter((k) => k.startsWith('sigwatch.dev/')),
        name,
      ).to.deep.equal([]);
      expect(pod.metadata?.labels?.['app'], name).to.equal('web');
      expect(pod.metadata?.annotations?.['team'], name).to.equal('a');
    }
  });
});
