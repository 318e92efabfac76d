/**
 * A real Alertmanager (Debian's prometheus-alertmanager, installed by
 * hack/install-apt.sh) on a free loopback port, clustering off, with a
 * short `resolve_timeout` so a test can show that Sigwatch's re-posts keep
 * an alert firing past it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Alertmanager {
  readonly url: string;
  /** Active (firing, unsilenced) alerts named `alertname`. */
  activeAlerts(
    alertname: string,
  ): Promise<{ labels: Record<string, string>; endsAt: string; status: { state: string } }[]>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}

export async function startAlertmanager(resolveTimeout = '5s'): Promise<Alertmanager> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-am-'));
  await writeFile(
    join(dir, 'am.yml'),
    `global: {resolve_timeout: ${resolveTimeout}}\nroute: {receiver: sink, group_by: [alertname], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}\nreceivers:\n  - name: sink\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${String(port)}`;
  const child: ChildProcess = spawn(
    'prometheus-alertmanager',
    [
      `--config.file=${join(dir, 'am.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${String(port)}`,
      '--cluster.listen-address=',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`Alertmanager did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async activeAlerts(alertname) {
      const q = new URLSearchParams({ active: 'true', silenced: 'false', inhibited: 'false' });
      q.append('filter', `alertname="${alertname}"`);
      const res = await fetch(`${url}/api/v2/alerts?${q.toString()}`);
      return (await res.json()) as {
        labels: Record<string, string>;
        endsAt: string;
        status: { state: string };
      }[];
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
