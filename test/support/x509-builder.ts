/**
 * X.509 certificates minted for unit tests, with exactly the extensions a
 * case needs (a critical one the verifier does not know, a CA without
 * keyCertSign, …), which openssl's configuration files make awkward; the
 * DER writer is the product's own (src/base/der.ts).
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { X509Certificate } from '@sigstore/core';
import {
  bool,
  commonName,
  der,
  extension,
  int,
  oid,
  seq,
  time as utcTime,
  utf8,
} from '../../src/base/der.js';

export { der, int, oid, seq, utf8 };

const name = commonName;
const TRUE = bool(true);
const ext = extension;

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
  /** Any non-critical extension with `value` as its extnValue contents, unchanged. */
  raw: (id: string, value: Buffer): Buffer => ext(id, false, value),
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
