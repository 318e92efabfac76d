/**
 * X.509 certificates minted for unit tests, with exactly the extensions a
 * case needs (a critical one the verifier does not know, a CA without
 * keyCertSign, …), which openssl's configuration files make awkward. A
 * minimal DER writer, enough for that and no more: lengths up to 0xffff,
 * one-byte INTEGERs, UTCTime.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';

const derLength = (n: number): Buffer =>
  n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
export const der = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
};
export const seq = (...parts: Buffer[]): Buffer => der(0x30, ...parts);
export const oid = (dotted: string): Buffer => {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Buffer.from(bytes));
};
export const int = (n: number): Buffer => der(0x02, Buffer.from([n]));
export const utf8 = (s: string): Buffer => der(0x0c, Buffer.from(s, 'utf8'));
const utcTime = (d: Date): Buffer =>
  der(
    0x17,
    Buffer.from(
      d
        .toISOString()
        .replace(/[-:T]|\.\d+/g, '')
        .slice(2),
    ),
  );
const name = (cn: string): Buffer => seq(der(0x31, seq(oid('2.5.4.3'), utf8(cn))));
const TRUE = der(0x01, Buffer.from([0xff]));
const ext = (id: string, critical: boolean, value: Buffer): Buffer =>
  seq(oid(id), ...(critical ? [TRUE] : []), der(0x04, value));

/** The extensions the test cases combine, by role. */
export const ext$ = {
  ca: (pathLen?: number): Buffer =>
    ext('2.5.29.19', true, seq(TRUE, ...(pathLen === undefined ? [] : [int(pathLen)]))),
  caKeyUsage: (): Buffer => ext('2.5.29.15', true, der(0x03, Buffer.from([1, 0x06]))), // keyCertSign, cRLSign
  leafKeyUsage: (): Buffer => ext('2.5.29.15', true, der(0x03, Buffer.from([7, 0x80]))), // digitalSignature
  certSignOnly: (): Buffer => ext('2.5.29.15', true, der(0x03, Buffer.from([2, 0x04]))), // keyCertSign
  eku: (...oids: string[]): Buffer => ext('2.5.29.37', false, seq(...oids.map(oid))),
  email: (v: string): Buffer => ext('2.5.29.17', true, seq(der(0x81, Buffer.from(v)))),
  uri: (v: string): Buffer => ext('2.5.29.17', true, seq(der(0x86, Buffer.from(v)))),
  sans: (...parts: Buffer[]): Buffer => ext('2.5.29.17', true, seq(...parts)),
  issuerV1: (v: string): Buffer => ext('1.3.6.1.4.1.57264.1.1', false, Buffer.from(v)),
  issuerV2: (v: string): Buffer => ext('1.3.6.1.4.1.57264.1.8', false, utf8(v)),
  unknownCritical: (): Buffer => ext('1.2.3.4', true, der(0x05)),
};
export const codeSigning = '1.3.6.1.5.5.7.3.3';

export interface Minted {
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly cn: string;
}

let serial = 1;
/**
 * A P-256 certificate for `cn` with exactly `extensions`, signed by `issuer`
 * (self-signed without one), valid for `validity` (ISO times).
 */
export function mint(
  cn: string,
  extensions: Buffer[],
  issuer?: Minted,
  validity: [string, string] = ['2024-01-01T00:00:00Z', '2030-01-01T00:00:00Z'],
): Minted {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = seq(oid('1.2.840.10045.4.3.2'));
  const tbs = seq(
    der(0xa0, int(2)),
    int(serial++),
    alg,
    name(issuer?.cn ?? cn),
    seq(utcTime(new Date(validity[0])), utcTime(new Date(validity[1]))),
    name(cn),
    pair.publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, issuer?.key ?? pair.privateKey);
  const raw = seq(tbs, alg, der(0x03, Buffer.from([0]), signature));
  return { cert: X509Certificate.parse(Buffer.from(raw)), key: pair.privateKey, cn };
}
