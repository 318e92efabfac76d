/**
 * Event de-duplication that survives restarts and leader changes (issue 22,
 * item 5), on the real API server: a new EventRecorder — a restarted
 * process, a new leader — reads back the keys of the Events already in the
 * namespace (a paged list) and repeats none of them; EvictionRefused is
 * once per workload per quiet period; without `list` on Events it still
 * reports (a repeat at worst) and says why in the log.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { KubeHttp } from '../../../src/operator/kube/client.js';
import type { Logger } from '../../../src/operator/kube/logger.js';
import type { TrimmedPod } from '../../../src/operator/pod.js';
import { EventRecorder, type EventRecorderOptions } from '../../../src/operator/verdicts/pod-events.js';
import { freshNamespace, kubeConnection, withClusterRules } from '../../support/kube.js';

interface StoredEvent {
  reason: string;
  involvedObject: { name: string };
  source?: { component?: string };
}

const digestA = `sha256:${'a'.repeat(64)}`;
const digestB = `sha256:${'b'.repeat(64)}`;

function pod(namespace: string, name: string, owner?: string): TrimmedPod {
  return {
    namespace,
    name,
    uid: randomUUID(),
    labels: {},
    annotations: {},
    phase: 'Running',
    ...(owner === undefined ? {} : { owner: { kind: 'ReplicaSet', name: owner } }),
    deleting: false,
    mirror: false,
    containers: [],
    pullSecrets: [],
    serviceAccount: 'default',
  };
}

const unsigned = (digest: string) => ({
  policy: 'prod-images',
  container: 'app',
  image: 'reg.test/shop:1',
  digest,
  reason: 'SignatureMissing',
  message: 'no signature by any authority of the policy',
});

const refused = {
  type: 'Warning',
  reason: 'EvictionRefused',
  message: 'ImagePolicy prod-images: eviction refused (a PodDisruptionBudget); retrying later, never forced',
} as const;

/** A logger that keeps what it was told. */
function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string, meta?: object): void => {
    lines.push(`${m} ${JSON.stringify(meta ?? {})}`);
  };
  return { lines, info: keep, warn: keep, error: keep, debug: keep };
}

describe('operator: Events are not repeated by a restarted operator or a new leader', function () {
  this.timeout(60_000);
  // Built lazily: the root hook sets KUBECONFIG after the files are loaded.
  let admin: KubeHttp;
  before(() => {
    admin = new KubeHttp(kubeConnection());
  });
  const clock = { now: new Date() };

  const recorder = (over: Partial<EventRecorderOptions> = {}): EventRecorder =>
    new EventRecorder({
      kube: admin,
      logger: recordingLogger(),
      mayWrite: () => true,
      now: () => clock.now,
      // Small pages: the read-back must follow `continue`.
      listPageSize: 2,
      ...over,
    });

  const events = async (ns: string, reason: string): Promise<string[]> => {
    const list = (await admin.call({ method: 'GET', path: `/api/v1/namespaces/${ns}/events` })) as {
      items: StoredEvent[];
    };
    return list.items
      .filter((e) => e.reason === reason)
      .map((e) => e.involvedObject.name)
      .sort();
  };

  beforeEach(() => {
    clock.now = new Date();
  });

  it('a new recorder repeats no (owner, digest, reason) and keeps the owner quiet; another owner is reported', async () => {
    const ns = await freshNamespace('events');
    const first = recorder();
    await first.violation(pod(ns, 'web-1', 'web'), unsigned(digestA));
    // More keyed Events than a page holds.
    for (const name of ['job-1', 'job-2', 'job-3', 'job-4'])
      await first.violation(pod(ns, name, name), unsigned(digestA));
    // Another component's Event of the same reason is not Sigwatch's and silences nothing.
    await admin.call({
      method: 'POST',
      path: `/api/v1/namespaces/${ns}/events`,
      body: {
        metadata: { generateName: 'db-1.' },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'db-1' },
        reason: 'SignatureMissing',
        message: 'not ours',
        source: { component: 'someone-else' },
        type: 'Warning',
      },
    });
    const jobs = ['job-1', 'job-2', 'job-3', 'job-4'];
    const said = ['db-1', ...jobs, 'web-1'];
    expect(await events(ns, 'SignatureMissing')).to.deep.equal(said);

    const second = recorder();
    await second.violation(pod(ns, 'web-2', 'web'), unsigned(digestA)); // same (owner, digest, reason)
    await second.violation(pod(ns, 'web-2', 'web'), unsigned(digestB)); // same owner within 10 minutes
    for (const name of jobs) await second.violation(pod(ns, `${name}-b`, name), unsigned(digestA));
    await second.violation(pod(ns, 'db-1', 'db'), unsigned(digestA)); // a new owner
    // Only the new owner's: every other key was read back, from whichever page it was on.
    expect(await events(ns, 'SignatureMissing')).to.deep.equal(['db-1', ...said]);

    // After the owner's quiet period, its other digest is news; the first one stays said.
    clock.now = new Date(clock.now.getTime() + 11 * 60_000);
    const third = recorder();
    await third.violation(pod(ns, 'web-3', 'web'), unsigned(digestA));
    await third.violation(pod(ns, 'web-3', 'web'), unsigned(digestB));
    expect((await events(ns, 'SignatureMissing')).filter((n) => n.startsWith('web'))).to.deep.equal([
      'web-1',
      'web-3',
    ]);
  });

  it('EvictionRefused: once per workload every 10 minutes, whichever pod and recorder', async () => {
    const ns = await freshNamespace('refused');
    const first = recorder();
    await first.action(pod(ns, 'web-1', 'web'), refused, 'prod-images|refused', 600_000, 'owner');
    await first.action(pod(ns, 'web-2', 'web'), refused, 'prod-images|refused', 600_000, 'owner');
    const second = recorder();
    await second.action(pod(ns, 'web-2', 'web'), refused, 'prod-images|refused', 600_000, 'owner');
    expect(await events(ns, 'EvictionRefused')).to.deep.equal(['web-1']);
    // After a reset (the lease lost and won again) it reads back again.
    clock.now = new Date(clock.now.getTime() + 5 * 60_000);
    second.reset();
    await second.action(pod(ns, 'web-2', 'web'), refused, 'prod-images|refused', 600_000, 'owner');
    expect(await events(ns, 'EvictionRefused')).to.deep.equal(['web-1']);
    clock.now = new Date(clock.now.getTime() + 6 * 60_000);
    await recorder().action(pod(ns, 'web-2', 'web'), refused, 'prod-images|refused', 600_000, 'owner');
    expect(await events(ns, 'EvictionRefused')).to.deep.equal(['web-1', 'web-2']);
  });

  it('without list on Events it still reports, and logs that it could not read back', async () => {
    const ns = await freshNamespace('no-list');
    const logger = recordingLogger();
    await withClusterRules(
      'events-writer',
      [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }],
      async (kube) => {
        await recorder({ kube, logger }).violation(pod(ns, 'web-1', 'web'), unsigned(digestA));
      },
    );
    expect(await events(ns, 'SignatureMissing')).to.deep.equal(['web-1']);
    expect(logger.lines.join('\n')).to.contain('events not read back').and.contain('403');
  });
});
