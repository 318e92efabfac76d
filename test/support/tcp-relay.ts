/**
 * A TCP relay on 127.0.0.1 that can be cut and restored, as a network
 * partition would: cutting destroys every open connection and drops new
 * ones; restoring lets new ones through again. Protocol-agnostic, so it
 * stands in front of the API server (TLS) and registries (plain HTTP) alike.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpRelay {
  /** `127.0.0.1:port` of the relay. */
  readonly address: string;
  /** `https://` + address, for an API server behind it. */
  readonly url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** `target` is a URL or `host:port`. Starts passing traffic unless `startCut`. */
export async function startTcpRelay(
  target: URL | string,
  options: { startCut?: boolean } = {},
): Promise<TcpRelay> {
  const { hostname, port } = typeof target === 'string' ? new URL(`tcp://${target}`) : target;
  const sockets = new Set<Socket>();
  let isCut = options.startCut ?? false;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: hostname, port: Number(port) });
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = `127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  return {
    address,
    url: `https://${address}`,
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
