import { generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { expect } from 'chai';
import { VerifyError } from '../../../src/verify/errors.js';
import { parsePemBlocks, parsePublicKey, spkiDer, verifyMessage } from '../../../src/verify/keys.js';
import { readTestdata } from '../../support/testdata.js';

const message = Buffer.from('{"critical":{}}');

interface Pair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

const spkiPem = (pair: Pair): string => pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('verify/keys', () => {
  describe('parsePublicKey accepts and verifyMessage checks each supported algorithm', () => {
    const algorithms: [string, () => Pair, string | null][] = [
      ['ECDSA P-256 / SHA-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }), 'sha256'],
      ['ECDSA P-384 / SHA-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }), 'sha384'],
      [
        'ECDSA P-384 / SHA-256 (cosign default hash)',
        () => generateKeyPairSync('ec', { namedCurve: 'P-384' }),
        'sha256',
      ],
      ['Ed25519', () => generateKeyPairSync('ed25519'), null],
      ['RSA 2048 / PKCS#1 v1.5 SHA-256', () => generateKeyPairSync('rsa', { modulusLength: 2048 }), 'sha256'],
    ];
    for (const [name, generate, hash] of algorithms) {
      it(name, () => {
        const pair = generate();
        const key = parsePublicKey(spkiPem(pair));
        const signature = sign(hash, message, pair.privateKey);
        expect(verifyMessage(key, message, signature)).to.equal(true);
        expect(verifyMessage(key, Buffer.from('{"critical":{} }'), signature)).to.equal(false);
      });
    }

    it('accepts a PKCS#1 RSA PUBLIC KEY block', () => {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = pair.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
      expect(spkiDer(parsePublicKey(pem)).equals(spkiDer(pair.publicKey))).to.equal(true);
    });

    it('parses the cosign.pub of the containers-image fixtures (P-256)', () => {
      const key = parsePublicKey(readTestdata('containers-image/dir-img-cosign-valid/cosign.pub'));
      expect(key.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    });

    it('does not accept P-256 signatures made with SHA-384', () => {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(verifyMessage(pair.publicKey, message, sign('sha384', message, pair.privateKey))).to.equal(
        false,
      );
    });

    it('treats empty and garbage signatures as invalid without throwing', () => {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect(verifyMessage(pair.publicKey, message, Buffer.alloc(0))).to.equal(false);
      expect(verifyMessage(pair.publicKey, message, Buffer.from('not a DER signature'))).to.equal(false);
    });
  });

  describe('parsePublicKey rejects with PublicKeyInvalid', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bad: [string, () => string][] = [
      ['ECDSA P-521', () => spkiPem(generateKeyPairSync('ec', { namedCurve: 'P-521' }))],
      ['ECDSA secp256k1', () => spkiPem(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }))],
      ['RSA 1024', () => spkiPem(generateKeyPairSync('rsa', { modulusLength: 1024 }))],
      ['X25519 (not a signing key)', () => spkiPem(generateKeyPairSync('x25519'))],
      ['Ed448', () => spkiPem(generateKeyPairSync('ed448'))],
      ['a private key', () => p256.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
      ['two public keys', () => spkiPem(p256) + spkiPem(p256)],
      ['text after the key', () => `${spkiPem(p256)}trailing garbage\n`],
      ['a certificate', () => readTestdata('containers-image/rekor-set/rekor-cert')],
      ['an empty string', () => ''],
      [
        'a PUBLIC KEY block that is not a key',
        () => '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
      ],
    ];
    for (const [name, pem] of bad) {
      it(name, () => {
        expect(() => parsePublicKey(pem()))
          .to.throw(VerifyError)
          .with.property('code', 'PublicKeyInvalid');
      });
    }
  });

  describe('parsePemBlocks', () => {
    it('splits a chain and decodes every block', () => {
      const chain = readTestdata('containers-image/rekor-set/rekor-cert');
      const blocks = parsePemBlocks(chain + chain);
      expect(blocks?.map((b) => b.label)).to.deep.equal(['CERTIFICATE', 'CERTIFICATE']);
      expect(blocks?.[0]?.der.equals(new X509Certificate(chain).raw)).to.equal(true);
    });

    it('refuses text outside the blocks and bodies that are not base64', () => {
      expect(parsePemBlocks('junk\n-----BEGIN X-----\nAAAA\n-----END X-----\n')).to.equal(undefined);
      expect(parsePemBlocks('-----BEGIN X-----\nA*AA\n-----END X-----\n')).to.equal(undefined);
      expect(parsePemBlocks('-----BEGIN X-----\nAAAA\n-----END Y-----\n')).to.equal(undefined);
      expect(parsePemBlocks('-----BEGIN X-----AAAA\n-----END X-----\n')).to.equal(undefined);
      expect(parsePemBlocks('-----BEGIN X-----\nAAAA\n-----END X-----\n-----BEGIN X-----\n')).to.equal(
        undefined,
      );
      expect(parsePemBlocks('-----BEGIN X-Y-----\nAAAA\n-----END X-Y-----\n')).to.equal(undefined);
    });

    it('accepts CRLF line ends and whitespace between blocks', () => {
      const blocks = parsePemBlocks(
        ' \r\n-----BEGIN X-----\r\nAAAA\r\nAA==\r\n-----END X-----\r\n\n-----BEGIN Y-----\nAAAA\n-----END Y-----',
      );
      expect(blocks?.map((b) => [b.label, b.der.length])).to.deep.equal([
        ['X', 4],
        ['Y', 3],
      ]);
    });

    it('stops at the first block beyond maxBlocks', () => {
      const block = '-----BEGIN X-----\nAAAA\n-----END X-----\n';
      expect(parsePemBlocks(block, 1)).to.have.lengthOf(1);
      expect(parsePemBlocks(block + block, 1)).to.equal(undefined);
    });

    it('finding 4: the cost per block does not grow with the number of blocks (linear, not quadratic)', () => {
      const block = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
      /** Fastest of a few runs, per block: noise only ever adds time. */
      const nsPerBlock = (count: number): number => {
        const text = block.repeat(count);
        let best = Number.POSITIVE_INFINITY;
        for (let run = 0; run < 3; run++) {
          const started = process.hrtime.bigint();
          expect(parsePemBlocks(text)).to.have.lengthOf(count);
          best = Math.min(best, Number(process.hrtime.bigint() - started));
        }
        return best / count;
      };
      const small = nsPerBlock(256);
      const large = nsPerBlock(256 * 32);
      // Linear: about the same per block. Removing each block from the rest (the old parser) made it ~32× here.
      expect(large / small).to.be.below(8);
    });
  });
});
