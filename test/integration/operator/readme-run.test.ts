/**
 * The README's out-of-cluster `sigwatch run` (issue 22, item 6) with the
 * flags it prints, through the real CLI: only the ports are made free and
 * the namespace fresh (later flags win; none of the test helper's loopback
 * defaults are added, so a flag missing from the README shows). The probe
 * port and the aggregated API then listen on loopback alone — a connection
 * to 127.0.0.2, which reaches a socket bound to 0.0.0.0 but not one bound to
 * 127.0.0.1, is refused — and the public-good root is not refreshed (no age
 * series).
 */
import { createConnection } from 'node:net';
import { expect } from 'chai';
import { allCrds } from '../../../src/operator/crds/crds.js';
import { applyCrd, freshNamespace } from '../../support/kube.js';
import { startOperatorProcess, type OperatorProcess } from '../../support/operator-process.js';
import { readmeBlock } from '../../support/readme.js';

/** The arguments after `sigwatch run` in the README block, continuation lines joined, `[optional]` parts dropped. */
function readmeRunArgs(): string[] {
  const command = readmeBlock('run-out-of-cluster')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .find((line) => line.startsWith('sigwatch run '));
  if (command === undefined) throw new Error('the README block has no sigwatch run line');
  return command
    .replace(/\[[^\]]*\]/g, ' ')
    .trim()
    .split(/\s+/)
    .slice(2);
}

/** 'open', or why not: an error code (ECONNREFUSED) or 'timeout'. */
function connect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port, timeout: 5_000 });
    socket.on('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code ?? error.message);
    });
  });
}

describe("operator: the README's out-of-cluster sigwatch run", function () {
  this.timeout(90_000);
  let operator: OperatorProcess | undefined;

  // The block's first line (`sigwatch crds | kubectl apply -f -`), as the test environment does it.
  before(async () => {
    for (const crd of allCrds()) await applyCrd(crd);
  });

  after(async () => {
    if (operator !== undefined) expect(await operator.stop(), operator.logs().slice(-3000)).to.equal(0);
  });

  it('listens on loopback only and refreshes no trusted root', async () => {
    const args = readmeRunArgs();
    expect(args, 'the README names the flags').to.include.members([
      '--probe-address',
      '--api-address',
      '--trust-refresh',
    ]);
    const ns = await freshNamespace('readme-run');
    operator = await startOperatorProcess(
      [...args, '--namespace', ns, '--probe-port', '0', '--api-port', '0'],
      {
        asGiven: true,
      },
    );
    const ports = { probes: operator.probePort, 'aggregated API': operator.apiPort };
    for (const [what, port] of Object.entries(ports)) {
      expect(port, what).to.be.greaterThan(0);
      expect(await connect('127.0.0.1', port), `${what} on 127.0.0.1`).to.equal('open');
      expect(await connect('127.0.0.2', port), `${what} beyond 127.0.0.1`).to.equal('ECONNREFUSED');
    }
    const metrics = await (await fetch(`http://127.0.0.1:${String(operator.probePort)}/metrics`)).text();
    expect(metrics).to.match(/^sigwatch_leader /m);
    expect(metrics).not.to.match(/^(# TYPE )?sigwatch_trust_root_age_seconds/m);
  });
});
