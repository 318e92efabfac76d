/**
 * Public keys and raw signatures: parsing the PEM keys an admin configures,
 * and checking a signature over exact message bytes with the hash each key
 * type implies. Pure: no I/O, no clock.
 *
 * Accepted algorithms are the ones cosign can produce for `--key`: ECDSA on
 * P-256 or P-384, Ed25519, and RSA of at least 2048 bits (PKCS#1 v1.5).
 * Anything else is refused when the key is loaded, so a weak or exotic key
 * never reaches verification.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { VerifyError } from './errors.js';

const minRsaBits = 2048;

/**
 * Hashes tried per ECDSA curve. cosign verifies `--key` signatures with
 * SHA-256 whatever the curve (its default hash), while sigstore-go and newer
 * signers pair P-384 with SHA-384; both are collision resistant, so accepting
 * either for P-384 admits no forgery the other would reject.
 */
const ecdsaHashes: ReadonlyMap<string, readonly string[]> = new Map([
  ['prime256v1', ['sha256']],
  ['secp384r1', ['sha384', 'sha256']],
]);

/** One PEM block: its label (`CERTIFICATE`, `PUBLIC KEY`…) and decoded DER. */
export interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const pemBegin = '-----BEGIN ';
const pemDashes = '-----';
const pemLabelPattern = /^[A-Z0-9 ]+$/;
const pemBodyPattern = /^[A-Za-z0-9+/=\r\n]*$/;
const blankPattern = /^\s*$/;

/**
 * Splits text into PEM blocks. Returns undefined when the text holds anything
 * but whitespace outside the blocks, a block body is not base64, or there
 * are more than `maxBlocks` blocks, so a truncated or concatenated-garbage
 * annotation is never half-read.
 *
 * Linear in the text: one forward scan that never copies what it has passed
 * (registry annotations reach megabytes, and removing each block from the
 * rest of the text made this quadratic), and it stops at the first block
 * beyond `maxBlocks`.
 */
export function parsePemBlocks(text: string, maxBlocks = Number.POSITIVE_INFINITY): PemBlock[] | undefined {
  const blocks: PemBlock[] = [];
  let at = 0;
  for (;;) {
    const start = text.indexOf(pemBegin, at);
    if (!blankPattern.test(text.slice(at, start === -1 ? text.length : start))) {
      return undefined;
    }
    if (start === -1) {
      return blocks;
    }
    const block = blocks.length < maxBlocks ? readPemBlock(text, start) : undefined;
    if (block === undefined) {
      return undefined;
    }
    blocks.push(block.block);
    at = block.end;
  }
}

/** The block whose `-----BEGIN` is at `start`, and the index just past its `-----END …-----`. */
function readPemBlock(text: string, start: number): { block: PemBlock; end: number } | undefined {
  const labelStart = start + pemBegin.length;
  const labelEnd = text.indexOf(pemDashes, labelStart);
  const label = labelEnd === -1 ? '' : text.slice(labelStart, labelEnd);
  if (!pemLabelPattern.test(label)) {
    return undefined;
  }
  let bodyStart = labelEnd + pemDashes.length;
  bodyStart += text.startsWith('\r\n', bodyStart) ? 2 : text.startsWith('\n', bodyStart) ? 1 : 0;
  if (bodyStart === labelEnd + pemDashes.length) {
    return undefined; // the BEGIN line must end there
  }
  // A body holds no '-', so the first dash after it must open the matching END line.
  const bodyEnd = text.indexOf('-', bodyStart);
  const endLine = `-----END ${label}-----`;
  if (bodyEnd === -1 || !text.startsWith(endLine, bodyEnd)) {
    return undefined;
  }
  const body = text.slice(bodyStart, bodyEnd);
  const base64 = pemBodyPattern.test(body) ? body.replace(/\r?\n/g, '') : '';
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0 || base64.length === 0) {
    return undefined;
  }
  return { block: { label, der: Buffer.from(base64, 'base64') }, end: bodyEnd + endLine.length };
}

function invalidKey(message: string, cause?: unknown): VerifyError {
  return new VerifyError('PublicKeyInvalid', message, cause === undefined ? undefined : { cause });
}

/**
 * Parses one PEM public key (`PUBLIC KEY`, i.e. SPKI, or PKCS#1 `RSA PUBLIC
 * KEY`) from configuration.
 * @throws VerifyError `PublicKeyInvalid` when the text is not exactly one
 *   public-key block (a private key or a certificate is refused, not reduced
 *   to its public half), or the algorithm is not ECDSA P-256/P-384, Ed25519
 *   or RSA ≥ 2048 bits.
 */
export function parsePublicKey(pem: string): KeyObject {
  const blocks = parsePemBlocks(pem);
  const block = blocks?.length === 1 ? blocks[0] : undefined;
  if (block === undefined) {
    throw invalidKey('expected exactly one PEM block');
  }
  if (block.label !== 'PUBLIC KEY' && block.label !== 'RSA PUBLIC KEY') {
    throw invalidKey(`expected a PUBLIC KEY PEM block, got ${block.label}`);
  }
  let key: KeyObject;
  try {
    key =
      block.label === 'PUBLIC KEY'
        ? createPublicKey({ key: block.der, format: 'der', type: 'spki' })
        : createPublicKey({ key: block.der, format: 'der', type: 'pkcs1' });
  } catch (error: unknown) {
    throw invalidKey('public key does not parse', error);
  }
  checkKeyAlgorithm(key);
  return key;
}

function checkKeyAlgorithm(key: KeyObject): void {
  const details = key.asymmetricKeyDetails ?? {};
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    if (details.namedCurve === undefined || !ecdsaHashes.has(details.namedCurve)) {
      throw invalidKey(`unsupported ECDSA curve ${String(details.namedCurve)} (want P-256 or P-384)`);
    }
  } else if (type === 'rsa') {
    if ((details.modulusLength ?? 0) < minRsaBits) {
      throw invalidKey(
        `RSA key of ${String(details.modulusLength)} bits (want at least ${String(minRsaBits)})`,
      );
    }
  } else if (type !== 'ed25519') {
    throw invalidKey(`unsupported key type ${String(type)}`);
  }
}

/**
 * True when `signature` is a valid signature over exactly `message` by `key`
 * (ECDSA: ASN.1 DER signature; Ed25519: pure, no pre-hash; RSA: PKCS#1 v1.5
 * with SHA-256). Never throws: a malformed signature is simply not valid.
 */
export function verifyMessage(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length === 0) {
    return false;
  }
  const attempt = (hash: string | null): boolean => {
    try {
      return cryptoVerify(hash, message, key, signature);
    } catch {
      // OpenSSL rejects some malformed encodings by throwing instead of returning false.
      return false;
    }
  };
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    return (ecdsaHashes.get(key.asymmetricKeyDetails?.namedCurve ?? '') ?? []).some(attempt);
  }
  if (type === 'ed25519') {
    return attempt(null);
  }
  return type === 'rsa' && attempt('sha256');
}

/** The DER SubjectPublicKeyInfo of a key, for comparing keys byte for byte. */
export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}
