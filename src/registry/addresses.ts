/**
 * Address classes for redirect checks (design §6): a registry response must
 * not steer Sigwatch to a cloud metadata endpoint, the node's loopback or a
 * private network, unless the registry itself lives in that class.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export type AddressClass = 'loopback' | 'link-local' | 'private' | 'unspecified' | 'public';

function ipv4Class(ip: string): AddressClass {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  if (a === 127) return 'loopback';
  if (a === 169 && b === 254) return 'link-local';
  if (
    a === 10 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127)
  ) {
    return 'private';
  }
  if (a === 0) return 'unspecified';
  return 'public';
}

/** Classifies an IP literal (v4, v6, v4-mapped v6). */
export function classifyIp(ip: string): AddressClass {
  const unbracketed = ip.replace(/^\[|\]$/g, '').toLowerCase();
  const family = isIP(unbracketed);
  if (family === 4) return ipv4Class(unbracketed);
  if (family !== 6) return 'public';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(unbracketed);
  if (mapped?.[1] !== undefined) return ipv4Class(mapped[1]);
  if (unbracketed === '::1') return 'loopback';
  if (unbracketed === '::') return 'unspecified';
  if (/^fe[89ab]/.test(unbracketed)) return 'link-local';
  if (/^f[cd]/.test(unbracketed)) return 'private';
  return 'public';
}

/**
 * The classes a host name or literal resolves to (all addresses). A name that
 * does not resolve yields no classes; the request will fail on its own.
 */
export async function classifyHost(hostname: string): Promise<AddressClass[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 0) return [classifyIp(bare)];
  if (bare === 'localhost' || bare.endsWith('.localhost')) return ['loopback'];
  try {
    const addrs = await lookup(bare, { all: true });
    return addrs.map((a) => classifyIp(a.address));
  } catch {
    return [];
  }
}
