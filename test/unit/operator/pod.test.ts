import { expect } from 'chai';
import { evidenceKeyString } from '../../../src/operator/evidence/store.js';
import {
  actionable,
  imageName,
  inScope,
  reportedImage,
  trimPod,
  type TrimmedPod,
} from '../../../src/operator/pod.js';
import type { ReadyPolicy } from '../../../src/policy/compile.js';
import { policyMatches } from '../../../src/policy/evaluate.js';
import {
  complianceLabel,
  exemptByAnnotation,
  marksPatch,
  podMarks,
  reasonsAnnotation,
  staleAnnotation,
  VerdictMemory,
} from '../../../src/operator/verdicts/pod-label.js';
import { policySelectsPod, selectorMatches } from '../../../src/operator/verdicts/scope.js';
import { testKey } from '../../support/evidence-builder.js';
import { ready } from '../policy/policy-fixtures.js';

const digest = `sha256:${'ab'.repeat(32)}`;

function must<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('expected a value');
  return value;
}

function rawPod(overrides: Record<string, unknown> = {}): unknown {
  return {
    metadata: {
      namespace: 'shop',
      name: 'cart-1',
      uid: 'u1',
      labels: { app: 'cart' },
      annotations: {
        'sigwatch.dev/exempt-by': 'p',
        'kubectl.kubernetes.io/last-applied-configuration': '{…}',
      },
      ownerReferences: [{ kind: 'ReplicaSet', name: 'cart-7d9f', controller: true }],
    },
    spec: {
      containers: [{ name: 'app', image: 'registry.example/shop/cart:1.4' }],
      initContainers: [
        { name: 'migrate', image: 'registry.example/shop/migrate:1' },
        { name: 'proxy', image: 'registry.example/mesh/proxy:2', restartPolicy: 'Always' },
      ],
      ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
    },
    status: {
      phase: 'Running',
      containerStatuses: [
        { name: 'app', imageID: `registry.example/shop/cart@${digest}`, state: { running: {} } },
      ],
      initContainerStatuses: [
        {
          name: 'migrate',
          imageID: `docker-pullable://registry.example/shop/migrate@${digest}`,
          state: { terminated: {} },
        },
        { name: 'proxy', imageID: `registry.example/mesh/proxy@${digest}`, state: { running: {} } },
      ],
      ephemeralContainerStatuses: [
        { name: 'debug', imageID: `sha256:${'cd'.repeat(32)}`, state: { running: {} } },
      ],
    },
    ...overrides,
  };
}

describe('operator pods', () => {
  it('keeps only what the inventory needs', () => {
    const pod = trimPod(rawPod());
    expect(pod).to.deep.include({
      namespace: 'shop',
      name: 'cart-1',
      phase: 'Running',
      owner: { kind: 'ReplicaSet', name: 'cart-7d9f' },
      annotations: { 'sigwatch.dev/exempt-by': 'p' },
      deleting: false,
      mirror: false,
    });
    expect(pod?.containers.map((c) => [c.name, c.kind, c.state])).to.deep.equal([
      ['app', 'container', 'running'],
      ['migrate', 'init', 'terminated'],
      ['proxy', 'sidecar', 'running'],
      ['debug', 'ephemeral', 'running'],
    ]);
    expect(trimPod({ kind: 'NotAPod' })).to.equal(undefined);
    expect(trimPod(null)).to.equal(undefined);
  });

  it('keeps the pull secrets and service account (only read with --pod-pull-secrets)', () => {
    expect(trimPod(rawPod())).to.deep.include({ pullSecrets: [], serviceAccount: 'default' });
    const spec = {
      containers: [],
      serviceAccountName: 'builder',
      imagePullSecrets: [{ name: 'regcred' }, {}, { name: '' }, 'junk', { name: 'mirror' }],
    };
    expect(trimPod(rawPod({ spec }))).to.deep.include({
      pullSecrets: ['regcred', 'mirror'],
      serviceAccount: 'builder',
    });
  });

  it('acts only on running containers and sidecars of running pods', () => {
    const pod = must(trimPod(rawPod()));
    expect(pod.containers.map((c) => actionable(pod, c))).to.deep.equal([true, false, true, false]);
    const pending = must(trimPod(rawPod({ status: { phase: 'Pending' } })));
    expect(pending.containers.every((c) => !actionable(pending, c))).to.equal(true);
    expect(inScope(must(trimPod(rawPod({ status: { phase: 'Succeeded' } }))))).to.equal(false);
  });

  it('resolves reported image IDs: repo digests, pending, and config-only digests', () => {
    const pod = must(trimPod(rawPod()));
    const [app, migrate, , debug] = pod.containers;
    expect(app && reportedImage(app)).to.deep.equal({
      kind: 'digest',
      registry: 'registry.example',
      repository: 'shop/cart',
      digest,
    });
    expect(migrate && reportedImage(migrate)).to.deep.include({ kind: 'digest', repository: 'shop/migrate' });
    expect(debug && reportedImage(debug).kind).to.equal('unresolved');
    const waiting = must(trimPod(rawPod({ status: { phase: 'Pending', containerStatuses: [] } })));
    expect(waiting.containers[0] && reportedImage(waiting.containers[0])).to.deep.equal({ kind: 'pending' });
  });
});

describe('finding 1: a pod cannot step around a policy by spelling its registry differently', () => {
  const key = testKey();
  const policy = (): ReadyPolicy =>
    ready({
      match: { images: ['ghcr.io/**', 'registry.example.com/**', 'docker.io/library/**', '[::1]:5000/**'] },
      authorities: [{ name: 'k', key: { publicKey: key.publicKeyPem } }],
    });
  const podRunning = (image: string, imageID: string): TrimmedPod =>
    must(
      trimPod({
        metadata: { namespace: 'shop', name: 'p' },
        spec: { containers: [{ name: 'app', image }] },
        status: {
          phase: 'Running',
          containerStatuses: [{ name: 'app', imageID, state: { running: {} } }],
        },
      }),
    );
  // [as the pod spec and the kubelet write it, the canonical name]
  const rows: [string, string][] = [
    ['GHCR.IO/org/app', 'ghcr.io/org/app'],
    ['ghcr.io:443/org/app', 'ghcr.io/org/app'],
    ['Registry.Example.com/team/app', 'registry.example.com/team/app'],
    ['registry-1.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['index.docker.io/library/nginx', 'docker.io/library/nginx'],
    ['registry.hub.docker.com/nginx', 'docker.io/library/nginx'],
    ['nginx', 'docker.io/library/nginx'],
    ['[0:0::1]:5000/app', '[::1]:5000/app'],
  ];
  for (const [written, canonical] of rows) {
    it(`${written} is judged, keyed and shown as ${canonical}`, () => {
      const pod = podRunning(`${written}:v1`, `docker-pullable://${written}@${digest}`);
      const container = must(pod.containers[0]);
      const img = reportedImage(container);
      if (img.kind !== 'digest') throw new Error(`not a digest: ${img.kind}`);
      expect(imageName(img)).to.equal(canonical);
      expect(policyMatches(policy(), imageName(img)), 'the policy selects it').to.equal(true);
      // One evidence entry per digest, however the name was spelled.
      expect(evidenceKeyString(img)).to.equal(`${canonical}@${digest}`);
      expect(container.image, 'status shows the canonical name').to.equal(`${canonical}:v1`);
    });
  }
  it('keeps the parsed spec image, since a canonical name need not parse back to itself', () => {
    const container = must(podRunning('MYREG/app:v1', `MYREG/app@${digest}`).containers[0]);
    expect(container.image).to.equal('myreg/app:v1'); // which, parsed again, would be docker.io/myreg/app
    expect(container.reference).to.deep.include({ registry: 'myreg', repository: 'app', tag: 'v1' });
  });
});

describe('operator scope', () => {
  const key = testKey();
  const policy = (match: Record<string, unknown>) =>
    ready({
      match: { images: ['registry.example/**'], ...match },
      authorities: [{ name: 'k', key: { publicKey: key.publicKeyPem } }],
    });
  const pod = (namespace: string, labels: Record<string, string> = {}): TrimmedPod => ({
    namespace,
    name: 'p',
    uid: 'u',
    labels,
    annotations: {},
    phase: 'Running',
    deleting: false,
    mirror: false,
    containers: [],
    pullSecrets: [],
    serviceAccount: 'default',
  });
  const ctx = { operatorNamespace: 'sigwatch-system', namespaceLabels: { env: 'prod' } };

  it('matches label selectors as metav1 does', () => {
    const labels = { app: 'cart', tier: 'web' };
    expect(selectorMatches(undefined, labels)).to.equal(true);
    expect(selectorMatches({ matchLabels: { app: 'cart' } }, labels)).to.equal(true);
    expect(selectorMatches({ matchLabels: { app: 'shop' } }, labels)).to.equal(false);
    expect(
      selectorMatches(
        { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'api'] }] },
        labels,
      ),
    ).to.equal(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] }, labels),
    ).to.equal(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, labels)).to.equal(
      true,
    );
    expect(selectorMatches({ matchExpressions: [{ key: 'x', operator: 'Exists' }] }, labels)).to.equal(false);
  });

  it('reads only own labels: inherited names like constructor are absent', () => {
    const labels = { app: 'cart' };
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(selectorMatches({ matchExpressions: [{ key, operator: 'Exists' }] }, labels), key).to.equal(
        false,
      );
      expect(
        selectorMatches({ matchExpressions: [{ key, operator: 'DoesNotExist' }] }, labels),
        key,
      ).to.equal(true);
      expect(
        selectorMatches({ matchExpressions: [{ key, operator: 'NotIn', values: ['x'] }] }, labels),
        key,
      ).to.equal(true);
    }
  });

  it('never judges system namespaces or its own unless told to', () => {
    for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'sigwatch-system']) {
      expect(policySelectsPod(policy({}), pod(ns), ctx), ns).to.equal(false);
      expect(policySelectsPod(policy({ includeSystemNamespaces: true }), pod(ns), ctx), ns).to.equal(true);
    }
    expect(policySelectsPod(policy({}), pod('shop'), ctx)).to.equal(true);
  });

  it('applies excludeNamespaces, namespace and pod selectors', () => {
    expect(policySelectsPod(policy({ excludeNamespaces: ['shop'] }), pod('shop'), ctx)).to.equal(false);
    expect(
      policySelectsPod(policy({ namespaceSelector: { matchLabels: { env: 'prod' } } }), pod('shop'), ctx),
    ).to.equal(true);
    expect(
      policySelectsPod(policy({ namespaceSelector: { matchLabels: { env: 'dev' } } }), pod('shop'), ctx),
    ).to.equal(false);
    // A namespace not seen yet cannot satisfy a selector.
    const unseen = { ...ctx, namespaceLabels: undefined };
    expect(
      policySelectsPod(policy({ namespaceSelector: { matchLabels: { env: 'prod' } } }), pod('shop'), unseen),
    ).to.equal(false);
    expect(
      policySelectsPod(
        policy({ podSelector: { matchLabels: { app: 'cart' } } }),
        pod('shop', { app: 'cart' }),
        ctx,
      ),
    ).to.equal(true);
    expect(
      policySelectsPod(policy({ podSelector: { matchLabels: { app: 'cart' } } }), pod('shop'), ctx),
    ).to.equal(false);
  });
});

describe('operator pod label', () => {
  it('takes the worst verdict; Exempt counts as compliant and is named', () => {
    expect(podMarks([]).label).to.equal(undefined);
    const j = (
      policy: string,
      verdict: 'Compliant' | 'NonCompliant' | 'Unknown' | 'Exempt',
      reasons: string[] = [],
    ) => ({
      policy,
      verdict,
      stale: false,
      reasons,
    });
    expect(podMarks([j('a', 'Compliant'), j('b', 'Exempt')])).to.deep.equal({
      label: 'compliant',
      annotations: { [exemptByAnnotation]: 'b' },
    });
    expect(podMarks([j('a', 'Unknown', ['RegistryUnavailable']), j('b', 'Compliant')]).label).to.equal(
      'unknown',
    );
    expect(podMarks([j('a', 'Unknown'), j('b', 'NonCompliant', ['SignatureMissing'])])).to.deep.equal({
      label: 'noncompliant',
      annotations: { [reasonsAnnotation]: 'SignatureMissing' },
    });
  });

  it('keeps the last definite verdict through an outage, marked stale, with its own reasons', () => {
    const memory = new VerdictMemory();
    const unknown = { verdict: 'Unknown', reasons: ['RegistryUnavailable'], message: 'down' } as const;
    const failing = { verdict: 'NonCompliant', reasons: ['SignatureMissing'], message: 'unsigned' } as const;
    expect(memory.effective('d', 'p', unknown)).to.deep.equal({ verdict: 'Unknown', stale: false });
    expect(memory.effective('d', 'p', failing)).to.deep.equal({ verdict: 'NonCompliant', stale: false });
    expect(memory.effective('d', 'p', unknown)).to.deep.equal({
      verdict: 'NonCompliant',
      stale: true,
      lastDefinite: failing,
    });
    expect(memory.effective('d', 'p', { verdict: 'Compliant', reasons: [], message: '' })).to.deep.equal({
      verdict: 'Compliant',
      stale: false,
    });
    memory.forgetDigest('d');
    expect(memory.effective('d', 'p', unknown).verdict).to.equal('Unknown');
    const marks = podMarks([{ policy: 'p', verdict: 'Compliant', stale: true, reasons: [] }]);
    expect(marks.annotations[staleAnnotation]).to.equal('true');
  });

  it('patches only what differs, and removes its marks when no policy labels the pod', () => {
    const current = { labels: { app: 'x', [complianceLabel]: 'compliant' }, annotations: {} };
    expect(marksPatch(current, { label: 'compliant', annotations: {} })).to.equal(undefined);
    expect(
      marksPatch(current, { label: 'noncompliant', annotations: { [reasonsAnnotation]: 'KeyMismatch' } }),
    ).to.deep.equal({
      metadata: {
        labels: { [complianceLabel]: 'noncompliant' },
        annotations: { [reasonsAnnotation]: 'KeyMismatch' },
      },
    });
    expect(marksPatch(current, { annotations: {} })).to.deep.equal({
      metadata: { labels: { [complianceLabel]: null } },
    });
    expect(marksPatch({ labels: {}, annotations: {} }, { annotations: {} })).to.equal(undefined);
  });
});
