/**
 * A private certificate authority standing in for Fulcio. Its leaf
 * certificates carry what Fulcio puts in a keyless certificate: the identity
 * as a SAN (URI or email), code-signing EKU, and the OIDC issuer in both the
 * v1 extension (1.3.6.1.4.1.57264.1.1, raw string, still read by cosign's
 * legacy verification) and the v2 extension (…1.8, a DER UTF8String), and
 * on request the GitHub Actions extensions of a workflow's certificate.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from './exec.js';

export interface TestCa {
  readonly dir: string;
  readonly rootCert: string;
  readonly rootKey: string;
}

export interface LeafCertificate {
  /** Plain PEM private key (PKCS#8). */
  readonly key: string;
  readonly cert: string;
  /** The chain to pass with the leaf: here just the root. */
  readonly chain: string;
  readonly identity: string;
  readonly issuer: string;
}

async function ecKey(path: string): Promise<void> {
  await exec('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

export async function createTestCa(name = 'sigwatch-test-fulcio'): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'sigwatch-ca-'));
  const rootKey = join(dir, 'root.key');
  const rootCert = join(dir, 'root.crt');
  await ecKey(rootKey);
  await exec('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    rootKey,
    '-subj',
    `/O=sigwatch-test/CN=${name}`,
    '-days',
    '7',
    '-out',
    rootCert,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { dir, rootCert, rootKey };
}

/**
 * The trusted root cosign itself would use for the test CA (`cosign trusted-root
 * create`): the CA as a Fulcio instance, no log, no CT log, no TSA. Returns its path.
 */
export async function createTrustedRoot(ca: TestCa): Promise<string> {
  const out = join(ca.dir, 'trusted_root.json');
  const chain = `--fulcio=url=https://ca.test,certificate-chain=${ca.rootCert}`;
  await exec('cosign', ['trusted-root', 'create', chain, '--out', out]);
  return out;
}

const colonHex = (s: string): string =>
  Buffer.from(s, 'utf8')
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1:');

/** The GitHub Actions claims Fulcio writes into a leaf, by extension: …1.2 to …1.6. */
export interface GithubWorkflowClaims {
  readonly trigger: string;
  readonly sha: string;
  readonly name: string;
  readonly repository: string;
  readonly ref: string;
}

/**
 * openssl extension lines for the deprecated GitHub extensions, written as
 * Fulcio writes them (docs/oid-info.md): the raw claim bytes as the value.
 */
export function githubWorkflowExtensions(claims: GithubWorkflowClaims): string[] {
  const order = [claims.trigger, claims.sha, claims.name, claims.repository, claims.ref];
  return order.map((value, i) => `1.3.6.1.4.1.57264.1.${String(i + 2)}=DER:${colonHex(value)}`);
}

/**
 * Issues a Fulcio-like leaf for `identity` (a URI, or an email when it
 * contains '@' and no scheme); `extraExtensions` are more openssl extension
 * lines (e.g. {@link githubWorkflowExtensions}).
 */
export async function issueLeaf(
  ca: TestCa,
  identity: string,
  issuer: string,
  validDays = 1,
  extraExtensions: readonly string[] = [],
): Promise<LeafCertificate> {
  const base = join(ca.dir, `leaf-${randomBytes(4).toString('hex')}`);
  const key = `${base}.key`;
  const cert = `${base}.crt`;
  const csr = `${base}.csr`;
  const ext = `${base}.ext`;
  await ecKey(key);
  await exec('openssl', ['req', '-new', '-key', key, '-subj', '/O=sigwatch-test', '-out', csr]);
  const san = /^[a-z][a-z0-9+.-]*:/i.test(identity) ? `URI:${identity}` : `email:${identity}`;
  await writeFile(
    ext,
    [
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      `subjectAltName=critical,${san}`,
      `1.3.6.1.4.1.57264.1.1=DER:${colonHex(issuer)}`,
      `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}`,
      ...extraExtensions,
      '',
    ].join('\n'),
  );
  await exec('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.rootCert,
    '-CAkey',
    ca.rootKey,
    '-CAcreateserial',
    '-days',
    String(validDays),
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { key, cert, chain: ca.rootCert, identity, issuer };
}

/**
 * Issues a TLS server certificate for localhost and `ips` (default 127.0.0.1)
 * from the test CA (for HTTPS registries in tests).
 */
export async function issueServerCert(
  ca: TestCa,
  ips: readonly string[] = ['127.0.0.1'],
): Promise<{ key: string; cert: string }> {
  const base = join(ca.dir, `server-${randomBytes(4).toString('hex')}`);
  await ecKey(`${base}.key`);
  await exec('openssl', [
    'req',
    '-new',
    '-key',
    `${base}.key`,
    '-subj',
    '/CN=localhost',
    '-out',
    `${base}.csr`,
  ]);
  const names = ['DNS:localhost', ...ips.map((ip) => `IP:${ip}`)].join(',');
  await writeFile(`${base}.ext`, `subjectAltName=${names}\nextendedKeyUsage=serverAuth\n`);
  await exec('openssl', [
    'x509',
    '-req',
    '-in',
    `${base}.csr`,
    '-CA',
    ca.rootCert,
    '-CAkey',
    ca.rootKey,
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    `${base}.ext`,
    '-out',
    `${base}.crt`,
  ]);
  return { key: `${base}.key`, cert: `${base}.crt` };
}
