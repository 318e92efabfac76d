import { expect } from 'chai';
import { mapBounded } from '../../../src/cli/fleet.js';

/** Tasks the test finishes by hand, in any order; records which are running. */
function manualTasks(): {
  task: (item: string) => Promise<string>;
  running: Set<string>;
  peak: () => number;
  peakOf: (prefix: string) => number;
  finish: (item: string) => Promise<void>;
} {
  const running = new Set<string>();
  const finishers = new Map<string, () => void>();
  let peak = 0;
  const peaks = new Map<string, number>();
  const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  return {
    running,
    peak: () => peak,
    peakOf: (prefix) => peaks.get(prefix) ?? 0,
    task: (item) =>
      new Promise((resolve) => {
        running.add(item);
        peak = Math.max(peak, running.size);
        const prefix = item.split('/')[0] ?? '';
        const mine = [...running].filter((r) => r.startsWith(`${prefix}/`)).length;
        peaks.set(prefix, Math.max(peaks.get(prefix) ?? 0, mine));
        finishers.set(item, () => {
          running.delete(item);
          resolve(`done ${item}`);
        });
      }),
    finish: async (item) => {
      await settle();
      const f = finishers.get(item);
      if (f === undefined) throw new Error(`${item} is not running`);
      f();
      await settle();
    },
  };
}

const hostOf = (item: string): string => item.split('/')[0] ?? '';

describe('cli/fleet mapBounded', () => {
  it('returns the results in the order of the items, whatever order they finish in', async () => {
    const t = manualTasks();
    const items = ['a/1', 'a/2', 'b/1'];
    const all = mapBounded(items, hostOf, { total: 3, perKey: 3 }, t.task);
    for (const item of ['b/1', 'a/2', 'a/1']) await t.finish(item);
    expect(await all).to.deep.equal(['done a/1', 'done a/2', 'done b/1']);
  });

  it('runs no more than `total` at once, starting the next as one finishes', async () => {
    const t = manualTasks();
    const items = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5'];
    const all = mapBounded(items, hostOf, { total: 2, perKey: 8 }, t.task);
    await t.finish('a/1');
    expect([...t.running]).to.have.members(['a/2', 'a/3']);
    for (const item of ['a/2', 'a/3', 'a/4', 'a/5']) await t.finish(item);
    await all;
    expect(t.peak()).to.equal(2);
  });

  it("runs no more than `perKey` of one key at once, and other keys' items meanwhile", async () => {
    const t = manualTasks();
    // Four items of a busy host come first; with one shared queue they would take all four slots.
    const items = ['slow/1', 'slow/2', 'slow/3', 'slow/4', 'fast/1', 'fast/2'];
    const all = mapBounded(items, hostOf, { total: 4, perKey: 2 }, t.task);
    await t.finish('fast/1');
    await t.finish('fast/2');
    expect([...t.running]).to.have.members(['slow/1', 'slow/2']);
    for (const item of ['slow/1', 'slow/2', 'slow/3', 'slow/4']) await t.finish(item);
    expect(await all).to.have.lengthOf(6);
    expect(t.peakOf('slow')).to.equal(2);
  });

  it("rejects with a task's own rejection", async () => {
    const bug = new TypeError('bug');
    const all = mapBounded(['a/1'], hostOf, { total: 1, perKey: 1 }, () => Promise.reject(bug));
    let caught: unknown;
    await all.catch((error: unknown) => {
      caught = error;
    });
    expect(caught).to.equal(bug);
  });
});
