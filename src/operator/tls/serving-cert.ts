/**
 * The aggregated API's serving certificate when none is mounted: a P-256 CA
 * made at start-up, kept only in this process's memory, and a leaf for the
 * Service's DNS names signed by it. The CA certificate goes into the
 * APIService's `caBundle` (api-service.ts), so the API server trusts this
 * replica and nothing else; a new leader publishes its own. The CA's key
 * never leaves the process and signs nothing but the one leaf.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import {
  bits,
  certificateSubject,
  commonName,
  der,
  extension,
  oid,
  seq,
  time,
  unsigned,
} from '../../base/der.js';

export interface ServingCert {
  /** PEM of the leaf, then the CA (the chain a TLS server sends). */
  readonly certPem: string;
  readonly keyPem: string;
  /** PEM of the CA alone: what clients trust (the APIService's caBundle). */
  readonly caPem: string;
  readonly notAfter: Date;
}

const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
const pem = (label: string, body: Buffer): string =>
  `-----BEGIN ${label}-----\n${(body.toString('base64').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;

interface Party {
  readonly name: Buffer;
  readonly key: { readonly publicKey: Buffer; readonly privateKey: Buffer };
}

function certificate(subject: Party, issuer: Party, from: Date, to: Date, extensions: Buffer[]): Buffer {
  const tbs = seq(
    der(0xa0, unsigned(Buffer.from([2]))), // v3
    unsigned(randomBytes(16)),
    ecdsaWithSha256,
    issuer.name,
    seq(time(from), time(to)),
    subject.name,
    subject.key.publicKey,
    der(0xa3, seq(...extensions)),
  );
  const key = createPrivateKey({ key: issuer.key.privateKey, format: 'der', type: 'pkcs8' });
  return seq(tbs, ecdsaWithSha256, bits(sign('sha256', tbs, key)));
}

/**
 * RFC 5280's key identifier (method 1): SHA-1 of the public key's bits —
 * for P-256, the last 65 bytes of the SubjectPublicKeyInfo (the point).
 * Strict verifiers (openssl -x509_strict) want it on every certificate.
 */
const keyId = (party: Party): Buffer =>
  createHash('sha1')
    .update(party.key.publicKey.subarray(party.key.publicKey.length - 65))
    .digest();
const subjectKeyId = (party: Party): Buffer => extension('2.5.29.14', false, der(0x04, keyId(party)));
const authorityKeyId = (issuer: Party): Buffer =>
  extension('2.5.29.35', false, seq(der(0x80, keyId(issuer))));

const keyPair = (): Party['key'] =>
  generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });

/** A CA that signs serving certificates: its certificate and key as PEM. */
export interface ServingCa {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

const validity = (now: Date, days: number): { from: Date; to: Date } => ({
  // An hour back: a client whose clock is a little behind still accepts it.
  from: new Date(now.getTime() - 3_600_000),
  to: new Date(now.getTime() + days * 86_400_000),
});

/** A P-256 CA (pathlen 0) named `<prefix>@<unix seconds>`, valid for `days`. */
export function mintCa(now: Date, days: number, prefix = 'sigwatch-api-ca'): ServingCa {
  const { from, to } = validity(now, days);
  const ca: Party = {
    name: commonName(`${prefix}@${String(Math.floor(now.getTime() / 1000))}`),
    key: keyPair(),
  };
  const caDer = certificate(ca, ca, from, to, [
    extension('2.5.29.19', true, seq(der(0x01, Buffer.from([0xff])), der(0x02, Buffer.from([0])))), // CA:TRUE, pathlen:0
    extension('2.5.29.15', true, der(0x03, Buffer.from([2, 0x04]))), // keyCertSign
    subjectKeyId(ca),
    authorityKeyId(ca),
  ]);
  return { certPem: pem('CERTIFICATE', caDer), keyPem: pem('PRIVATE KEY', ca.key.privateKey), notAfter: to };
}

/** The CA as a signing party: its subject name and key pair, read back from PEM. */
function caParty(ca: ServingCa): Party {
  const cert = new X509Certificate(ca.certPem);
  const privateKey = createPrivateKey(ca.keyPem);
  const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!cert.checkPrivateKey(privateKey)) throw new Error('the CA key does not match its certificate');
  return {
    name: certificateSubject(cert.raw),
    key: { publicKey, privateKey: privateKey.export({ type: 'pkcs8', format: 'der' }) },
  };
}

/**
 * A serving certificate for `dnsNames` (the first is its common name) signed
 * by `ca`, valid for `days` but never beyond the CA.
 */
export function mintLeaf(ca: ServingCa, dnsNames: readonly string[], now: Date, days: number): ServingCert {
  const [first] = dnsNames;
  if (first === undefined) throw new Error('a serving certificate needs at least one DNS name');
  const issuer = caParty(ca);
  const { from, to: wanted } = validity(now, days);
  const to = wanted < ca.notAfter ? wanted : ca.notAfter;
  const leaf: Party = { name: commonName(first), key: keyPair() };
  const leafDer = certificate(leaf, issuer, from, to, [
    extension('2.5.29.19', true, seq()), // CA:FALSE
    extension('2.5.29.15', true, der(0x03, Buffer.from([7, 0x80]))), // digitalSignature
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // serverAuth
    extension('2.5.29.17', false, seq(...dnsNames.map((n) => der(0x82, Buffer.from(n, 'ascii'))))),
    subjectKeyId(leaf),
    authorityKeyId(issuer),
  ]);
  // Parsed once here so a writer bug fails at once, not in the API server's handshake.
  if (!new X509Certificate(leafDer).checkIssued(new X509Certificate(ca.certPem)))
    throw new Error('the minted serving certificate does not chain to its CA');
  return {
    certPem: pem('CERTIFICATE', leafDer) + ca.certPem,
    keyPem: pem('PRIVATE KEY', leaf.key.privateKey),
    caPem: ca.certPem,
    notAfter: to,
  };
}

/**
 * A CA and a serving certificate for `dnsNames` (the first is the leaf's
 * common name), valid from an hour before `now` (clock skew) for `days`.
 */
export function mintServingCert(dnsNames: readonly string[], now: Date, days = 365): ServingCert {
  return mintLeaf(mintCa(now, days), dnsNames, now, days);
}
