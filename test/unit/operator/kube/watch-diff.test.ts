import { expect } from 'chai';
import { relistDiff } from '../../../../src/operator/kube/watch.js';

interface Trimmed {
  readonly name: string;
  readonly colour?: string;
}

describe('operator reflector relist', () => {
  it('computes the events of a relist: added, changed and deleted while away', () => {
    const before = new Map([
      ['a', { name: 'a', colour: 'red' }],
      ['b', { name: 'b' }],
    ]);
    const after = new Map([
      ['a', { name: 'a', colour: 'blue' }],
      ['c', { name: 'c' }],
    ]);
    const same = (x: Trimmed, y: Trimmed): boolean => JSON.stringify(x) === JSON.stringify(y);
    expect(relistDiff(before, after, same).map((e) => [e.type, e.key])).to.deep.equal([
      ['MODIFIED', 'a'],
      ['ADDED', 'c'],
      ['DELETED', 'b'],
    ]);
  });
});
