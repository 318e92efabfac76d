/**
 * The reflector against the real API server: paginated lists, trimmed
 * objects, events after the list, prompt re-watch when the server ends a
 * watch, a relist when the resourceVersion is too old, and silence after
 * stop().
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { Logger } from '../../../src/operator/kube/logger.js';
import { Reflector, type WatchEventType } from '../../../src/operator/kube/watch.js';
import { freshNamespace, kubeConfig, kubeConnection } from '../../support/kube.js';
import { eventually } from '../../support/operator-process.js';

const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

interface Trimmed {
  readonly name: string;
  readonly colour?: string;
}

const trim = (raw: unknown): Trimmed | undefined => {
  const meta = (raw as { metadata?: { name?: string; labels?: Record<string, string> } }).metadata;
  if (meta?.name === undefined) return undefined;
  const colour = meta.labels?.['colour'];
  return { name: meta.name, ...(colour === undefined ? {} : { colour }) };
};

describe('operator reflector', function () {
  this.timeout(60_000);
  const core = (): CoreV1Api => kubeConfig().makeApiClient(CoreV1Api);
  const reflectors: Reflector<Trimmed>[] = [];
  after(() => {
    for (const r of reflectors) r.stop();
  });

  function reflector(ns: string, options: { pageSize?: number; timeoutSeconds?: number } = {}) {
    const events: [WatchEventType, string][] = [];
    const r = new Reflector<Trimmed>({
      connection: kubeConnection(),
      path: `/api/v1/namespaces/${ns}/configmaps`,
      trim,
      logger: quiet,
      onEvent: (type, key) => events.push([type, key]),
      ...options,
    });
    reflectors.push(r);
    return { r, events };
  }

  const configMap = (ns: string, name: string, colour = 'red') =>
    core().createNamespacedConfigMap({
      namespace: ns,
      body: { metadata: { name, labels: { colour } }, data: { big: 'x'.repeat(1000) } },
    });

  it('lists in pages, keeps trimmed objects, then follows changes', async () => {
    const ns = await freshNamespace('watch');
    await Promise.all(Array.from({ length: 25 }, (_, i) => configMap(ns, `cm-${String(i)}`)));
    const { r, events } = reflector(ns, { pageSize: 10 });
    await r.start();
    expect(r.hasSynced()).to.equal(true);
    // kube-root-ca.crt is created in every namespace.
    expect(r.list().filter((o) => o.name.startsWith('cm-'))).to.have.length(25);
    expect(r.get(`${ns}/cm-3`)).to.deep.equal({ name: 'cm-3', colour: 'red' });
    expect(events.filter(([t]) => t === 'SYNC')).to.have.length(1);
    await configMap(ns, 'late', 'blue');
    await core().patchNamespacedConfigMap({
      namespace: ns,
      name: 'cm-3',
      body: [{ op: 'replace', path: '/metadata/labels/colour', value: 'green' }],
    });
    await core().deleteNamespacedConfigMap({ namespace: ns, name: 'cm-4' });
    await eventually('events', () =>
      Promise.resolve(
        r.get(`${ns}/late`) !== undefined &&
          r.get(`${ns}/cm-4`) === undefined &&
          r.get(`${ns}/cm-3`)?.colour === 'green'
          ? true
          : undefined,
      ),
    );
    expect(events).to.deep.include.members([
      ['ADDED', `${ns}/late`],
      ['MODIFIED', `${ns}/cm-3`],
      ['DELETED', `${ns}/cm-4`],
    ]);
  });

  it('re-watches promptly when the server ends the watch', async () => {
    const ns = await freshNamespace('rewatch');
    const { r } = reflector(ns, { timeoutSeconds: 1 });
    await r.start();
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // several server-side timeouts
    await configMap(ns, 'after-timeouts');
    await eventually('event after re-watch', () => Promise.resolve(r.get(`${ns}/after-timeouts`)), 5_000);
  });

  it('goes quiet after stop()', async () => {
    const ns = await freshNamespace('stop');
    const { r, events } = reflector(ns);
    await r.start();
    r.stop();
    const before = events.length;
    await configMap(ns, 'unseen');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(events).to.have.length(before);
  });
});
