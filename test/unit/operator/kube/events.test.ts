import { expect } from 'chai';
import {
  eventBody,
  eventKey,
  eventKeyAnnotation,
  keyedEventTime,
} from '../../../../src/operator/kube/events.js';

const pod = { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'u' };
const warning = { type: 'Warning', reason: 'SignatureMissing', message: 'unsigned' } as const;

describe('Sigwatch Events and their de-duplication keys', () => {
  it('a keyed Event reads back as its key and time', () => {
    const now = Date.parse('2026-12-01T10:00:01.400Z');
    const body = eventBody(pod, 'web-1.sigwatch-', warning, now, 'violation|shop/ReplicaSet/web|sha256:aa|X');
    expect(keyedEventTime(body)).to.deep.equal({
      key: 'violation|shop/ReplicaSet/web|sha256:aa|X',
      atMs: now,
    });
    // Without a key: no annotation at all, and nothing to read back.
    const plain = eventBody(pod, 'web-1.sigwatch-', warning, now) as { metadata: object };
    expect(plain.metadata).to.deep.equal({ generateName: 'web-1.sigwatch-', namespace: 'shop' });
    expect(keyedEventTime(plain)).to.equal(undefined);
  });

  it('takes the latest time an Event names (an aggregated Event was emitted again)', () => {
    const event = {
      metadata: { annotations: { [eventKeyAnnotation]: 'k' }, creationTimestamp: '2026-12-01T09:00:00Z' },
      firstTimestamp: '2026-12-01T09:00:00Z',
      lastTimestamp: '2026-12-01T09:40:00Z',
    };
    expect(keyedEventTime(event)?.atMs).to.equal(Date.parse('2026-12-01T09:40:00Z'));
    expect(keyedEventTime({ metadata: event.metadata })?.atMs).to.equal(Date.parse('2026-12-01T09:00:00Z'));
  });

  const hostile: [string, unknown][] = [
    ['null', null],
    ['an array', []],
    ['a string', 'x'],
    ['no metadata', { lastTimestamp: '2026-12-01T09:00:00Z' }],
    ['annotations not an object', { metadata: { annotations: 'k' }, lastTimestamp: '2026-12-01T09:00:00Z' }],
    ['a key that is not a string', { metadata: { annotations: { [eventKeyAnnotation]: 7 } } }],
    [
      'an empty key',
      { metadata: { annotations: { [eventKeyAnnotation]: '' } }, lastTimestamp: '2026-12-01T09:00:00Z' },
    ],
    [
      'an oversized key',
      {
        metadata: { annotations: { [eventKeyAnnotation]: 'k'.repeat(1025) } },
        lastTimestamp: '2026-12-01T09:00:00Z',
      },
    ],
    ['a key without any time', { metadata: { annotations: { [eventKeyAnnotation]: 'k' } } }],
    [
      'times that do not parse',
      {
        metadata: { annotations: { [eventKeyAnnotation]: 'k' }, creationTimestamp: 7 },
        firstTimestamp: 'yesterday',
        lastTimestamp: {},
      },
    ],
  ];
  for (const [what, item] of hostile)
    it(`skips ${what}`, () => {
      expect(keyedEventTime(item)).to.equal(undefined);
    });

  it('stores a key too long for an annotation so that the one read back is the one remembered, and two never collide', () => {
    const cause = 'x'.repeat(2_000);
    const a = eventKey(`action|ns/Pod/p|policy|wouldNotHelp|${cause}a`);
    const b = eventKey(`action|ns/Pod/p|policy|wouldNotHelp|${cause}b`);
    expect(a.length).to.be.at.most(1024);
    expect(a).not.to.equal(b);
    expect(eventKey('short|key')).to.equal('short|key');
    const body = eventBody(
      { apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'p', uid: 'u' },
      'p.sigwatch-',
      { type: 'Warning', reason: 'EvictionWouldNotHelp', message: 'm' },
      Date.parse('2026-12-05T10:00:00Z'),
      a,
    );
    expect(keyedEventTime(body)?.key).to.equal(a);
  });
});
