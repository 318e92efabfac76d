import { expect } from 'chai';
import { AdmissionError } from '../../../../src/operator/admission/errors.js';
import {
  maxTemplateContainers,
  podTemplate,
  type PodTemplate,
} from '../../../../src/operator/admission/workloads.js';

interface Gvk {
  group: string;
  version: string;
  kind: string;
}
const gvk = (group: string, version: string, kind: string): Gvk => ({ group, version, kind });

/** RFC 6901: the value at `pointer` in `doc`, undefined when a step is missing. */
function atPointer(doc: unknown, pointer: string): unknown {
  expect(pointer.startsWith('/'), pointer).to.equal(true);
  let node = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const step = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

const podSpec = (): Record<string, unknown> => ({
  serviceAccountName: 'cart-sa',
  imagePullSecrets: [{ name: 'pull-a' }, { name: 'pull-b' }],
  containers: [
    { name: 'app', image: 'registry.example/shop/cart:1.4' },
    { name: 'log', image: 'registry.example/shop/log:2' },
  ],
  initContainers: [{ name: 'migrate', image: 'registry.example/shop/migrate:1' }],
  ephemeralContainers: [{ name: 'debug', image: 'busybox' }],
});

const template = (): Record<string, unknown> => ({
  metadata: { labels: { app: 'cart' } },
  spec: podSpec(),
});

/** Each kind we judge, with its object as kubectl sends it. */
const workloads: [Gvk, Record<string, unknown>][] = [
  [gvk('', 'v1', 'Pod'), { metadata: { name: 'cart', labels: { app: 'cart' } }, spec: podSpec() }],
  [
    gvk('apps', 'v1', 'Deployment'),
    { metadata: { name: 'cart', labels: { owner: 'x' } }, spec: { template: template() } },
  ],
  [gvk('apps', 'v1', 'ReplicaSet'), { metadata: { name: 'cart' }, spec: { template: template() } }],
  [gvk('apps', 'v1', 'StatefulSet'), { metadata: { name: 'cart' }, spec: { template: template() } }],
  [gvk('apps', 'v1', 'DaemonSet'), { metadata: { name: 'cart' }, spec: { template: template() } }],
  [gvk('batch', 'v1', 'Job'), { metadata: { name: 'cart' }, spec: { template: template() } }],
  [
    gvk('batch', 'v1', 'CronJob'),
    {
      metadata: { name: 'cart' },
      spec: { schedule: '@hourly', jobTemplate: { spec: { template: template() } } },
    },
  ],
];

function must(t: PodTemplate | undefined): PodTemplate {
  if (t === undefined) throw new Error('expected a pod template');
  return t;
}

describe('admission pod templates', () => {
  for (const [kind, object] of workloads) {
    it(`reads a ${kind.kind}'s template: every container kind, labels, pull secrets, service account`, () => {
      const t = must(podTemplate(kind, 'shop', object));
      expect(t.kind).to.equal(kind.kind);
      expect(t.namespace).to.equal('shop');
      expect(t.name).to.equal('cart');
      // The template's labels (what the pods get), never the workload's own.
      expect(t.labels).to.deep.equal({ app: 'cart' });
      expect(t.containers.map((c) => [c.kind, c.name, c.image])).to.deep.equal([
        ['container', 'app', 'registry.example/shop/cart:1.4'],
        ['container', 'log', 'registry.example/shop/log:2'],
        ['init', 'migrate', 'registry.example/shop/migrate:1'],
        ['ephemeral', 'debug', 'busybox'],
      ]);
      expect(t.pullSecrets).to.deep.equal(['pull-a', 'pull-b']);
      expect(t.serviceAccount).to.equal('cart-sa');
    });

    it(`points each ${kind.kind} container's pointer at its image field`, () => {
      const t = must(podTemplate(kind, 'shop', object));
      for (const c of t.containers) expect(atPointer(object, c.pointer), c.pointer).to.equal(c.image);
      // The pointer names the field, not merely a field holding the same text.
      expect(t.containers.map((c) => c.pointer.split('/').slice(-3).join('/'))).to.deep.equal([
        'containers/0/image',
        'containers/1/image',
        'initContainers/0/image',
        'ephemeralContainers/0/image',
      ]);
    });
  }

  it('judges image volumes like containers, with a pointer at their reference', () => {
    const object = {
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'app', image: 'registry.example/app:1' }],
        volumes: [
          { name: 'config', configMap: { name: 'c' } },
          { name: 'models', image: { reference: 'registry.example/models:7', pullPolicy: 'IfNotPresent' } },
          { name: 'bad', image: { reference: 42 } },
        ],
      },
    };
    const t = podTemplate(gvk('', 'v1', 'Pod'), 'shop', object);
    expect(t?.containers.map((c) => `${c.kind}/${c.name}=${c.image}`)).to.deep.equal([
      'container/app=registry.example/app:1',
      'volume/models=registry.example/models:7',
    ]);
    const volume = t?.containers[1];
    expect(volume === undefined ? undefined : atPointer(object, volume.pointer)).to.equal(
      'registry.example/models:7',
    );
  });

  describe('is undefined for kinds it does not judge', () => {
    const others: [string, Gvk][] = [
      ['an extensions/v1beta1 Deployment', gvk('extensions', 'v1beta1', 'Deployment')],
      ['an apps/v1beta2 Deployment', gvk('apps', 'v1beta2', 'Deployment')],
      ['a batch/v1beta1 CronJob', gvk('batch', 'v1beta1', 'CronJob')],
      ['a CRD kind named like a workload', gvk('example.com', 'v1', 'Deployment')],
      ['a Pod in another group', gvk('apps', 'v1', 'Pod')],
      ['a kind spelled in lower case', gvk('apps', 'v1', 'deployment')],
      ['a Service', gvk('', 'v1', 'Service')],
      ['a ConfigMap', gvk('', 'v1', 'ConfigMap')],
    ];
    const object = { metadata: { name: 'x' }, spec: { template: template(), ...podSpec() } };
    for (const [name, kind] of others)
      it(name, () => {
        expect(podTemplate(kind, 'shop', object)).to.equal(undefined);
      });
  });

  describe('hostile shapes', () => {
    const pod = gvk('', 'v1', 'Pod');
    const images = (spec: unknown, metadata: unknown = { name: 'p' }): string[] =>
      must(podTemplate(pod, 'ns', { metadata, spec })).containers.map((c) => c.image);

    for (const [name, object] of [
      ['null', null],
      ['an array', [{ spec: podSpec() }]],
      ['a string', 'spec'],
      ['an object without spec', { metadata: { name: 'p' } }],
      ['a spec that is an array', { spec: [podSpec()] }],
    ] as const)
      it(`finds no containers in ${name}`, () => {
        const t = must(podTemplate(pod, 'ns', object));
        expect(t.containers).to.deep.equal([]);
        expect(t.pullSecrets).to.deep.equal([]);
        expect(t.serviceAccount).to.equal('default');
      });

    it('skips container lists that are not arrays', () => {
      expect(
        images({
          containers: { 0: { name: 'a', image: 'a:1' } },
          initContainers: 'b:1',
          ephemeralContainers: [{ name: 'e', image: 'e:1' }],
        }),
      ).to.deep.equal(['e:1']);
    });

    it('skips containers without a string image and keeps the indices of the others', () => {
      const spec = {
        containers: [
          null,
          'a:1',
          { name: 'n', image: 7 },
          { name: 'o', image: { ref: 'x:1' } },
          { name: 'e', image: '' },
          { name: 'ok', image: 'ok:1' },
        ],
      };
      const t = must(podTemplate(pod, 'ns', { spec }));
      expect(t.containers.map((c) => [c.image, c.pointer])).to.deep.equal([
        ['ok:1', '/spec/containers/5/image'],
      ]);
    });

    it('names a container without a name by its place', () => {
      const t = must(
        podTemplate(pod, 'ns', { spec: { initContainers: [{ image: 'a:1' }, { name: 3, image: 'b:1' }] } }),
      );
      expect(t.containers.map((c) => c.name)).to.deep.equal(['initContainers[0]', 'initContainers[1]']);
    });

    it('keeps only string labels', () => {
      const t = must(
        podTemplate(gvk('apps', 'v1', 'Deployment'), 'ns', {
          spec: {
            template: {
              metadata: { labels: { app: 'cart', n: 1, b: true, o: { x: 'y' }, z: null, e: '' } },
              spec: podSpec(),
            },
          },
        }),
      );
      expect(t.labels).to.deep.equal({ app: 'cart', e: '' });
    });

    it('reads labels that are not a map as none', () => {
      const t = must(podTemplate(pod, 'ns', { metadata: { labels: ['app=cart'] }, spec: podSpec() }));
      expect(t.labels).to.deep.equal({});
    });

    it('ignores pull secrets that are not references and a service account that is not a string', () => {
      const t = must(
        podTemplate(pod, 'ns', {
          spec: {
            ...podSpec(),
            imagePullSecrets: [{ name: 'ok' }, 'bare', { name: 5 }, null],
            serviceAccountName: ['sa'],
          },
        }),
      );
      expect(t.pullSecrets).to.deep.equal(['ok']);
      expect(t.serviceAccount).to.equal('default');
    });

    it(`judges ${String(maxTemplateContainers)} containers across all lists`, () => {
      const half = maxTemplateContainers / 2;
      const list = (n: number, p: string): object[] =>
        Array.from({ length: n }, (_, i) => ({ name: `${p}${String(i)}`, image: `${p}:${String(i)}` }));
      const t = must(
        podTemplate(pod, 'ns', { spec: { containers: list(half, 'c'), initContainers: list(half, 'i') } }),
      );
      expect(t.containers).to.have.length(maxTemplateContainers);
    });

    it('refuses to walk one container more, counted across lists', () => {
      const list = (n: number): object[] => Array.from({ length: n }, () => ({ image: 'a:1' }));
      const spec = { containers: list(maxTemplateContainers), ephemeralContainers: list(1) };
      expect(() => podTemplate(pod, 'ns', { spec }))
        .to.throw(AdmissionError, /containers/)
        .with.property('message')
        .that.includes(`has ${String(maxTemplateContainers + 1)} containers`);
    });

    it('refuses a huge container list by its length alone', () => {
      // A sparse array: a million slots, no elements; walking it would still cost a million steps.
      const spec = { containers: new Array<unknown>(1_000_000) };
      expect(() => podTemplate(gvk('batch', 'v1', 'Job'), 'ns', { spec: { template: { spec } } }))
        .to.throw(AdmissionError, /containers/)
        .with.property('message')
        .that.includes('has 1000000 containers');
    });
  });

  describe('names', () => {
    const pod = gvk('', 'v1', 'Pod');
    const nameOf = (metadata: unknown): string =>
      must(podTemplate(pod, 'ns', { metadata, spec: podSpec() })).name;

    it('uses metadata.name', () => {
      expect(nameOf({ name: 'cart-1', generateName: 'cart-' })).to.equal('cart-1');
    });

    it('uses generateName with * for a pod a controller is about to create', () => {
      expect(nameOf({ generateName: 'cart-7d9f-' })).to.equal('cart-7d9f-*');
    });

    it('is empty without either, or when they are not strings', () => {
      expect(nameOf({})).to.equal('');
      expect(nameOf({ name: 1, generateName: ['x'] })).to.equal('');
      expect(nameOf('cart')).to.equal('');
    });
  });
});
