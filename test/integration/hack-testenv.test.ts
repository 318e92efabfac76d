/**
 * hack/testenv's own contract: `up` and `down` are safe to run twice, and a
 * component stopped by hand is reported by name with its log file.
 */
import { expect } from 'chai';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseExports, runTestenv } from '../support/testenv.js';

describe('hack/testenv', function () {
  this.timeout(180_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sigwatch-testenv-selftest-'));
  });

  after(async () => {
    await runTestenv('down', '--dir', dir);
  });

  it('comes up, re-checks when run again, and reports a component stopped by hand', async () => {
    const first = await runTestenv('up', '--dir', dir);
    expect(first.code, first.stderr).to.equal(0);
    const vars = parseExports(first.stdout);
    expect(vars.get('SIGWATCH_TEST_REGISTRY')).to.match(/^127\.0\.0\.1:\d+$/);
    expect(vars.get('SIGWATCH_TEST_LEGACY_REGISTRY')).to.match(/^127\.0\.0\.1:\d+$/);
    expect(vars.get('KUBECONFIG')).to.equal(join(dir, 'kubeconfig'));

    const again = await runTestenv('up', '--dir', dir);
    expect(again.code, again.stderr).to.equal(0);
    expect(parseExports(again.stdout)).to.deep.equal(vars);

    const pid = Number(await readFile(join(dir, 'pids', 'olareg.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    const broken = await runTestenv('up', '--dir', dir);
    expect(broken.code).to.equal(1);
    expect(broken.stderr)
      .to.contain('olareg')
      .and.to.contain(join(dir, 'logs', 'olareg.log'));
  });

  it('stops everything on down and is safe to run twice', async () => {
    const pids = await Promise.all(
      ['etcd', 'kube-apiserver', 'legacy-registry'].map(async (c) =>
        Number(await readFile(join(dir, 'pids', `${c}.pid`), 'utf8')),
      ),
    );
    expect((await runTestenv('down', '--dir', dir)).code).to.equal(0);
    for (const pid of pids) {
      expect(() => process.kill(pid, 0), `pid ${String(pid)} still running`).to.throw();
    }
    const twice = await runTestenv('down', '--dir', dir);
    expect(twice.code).to.equal(0);
    expect(twice.stderr).to.contain('nothing to stop');
  });
});
