import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { expect } from 'chai';
import { verifyPrehashed } from '../../../src/verify/bundle-prehash.js';

const message = Buffer.from('sigwatch digest-only verification');

describe('verify/bundle-prehash', () => {
  describe('ECDSA over a digest agrees with Node signing the message', () => {
    const rows: ['P-256' | 'P-384', 'sha256' | 'sha384' | 'sha512'][] = [
      ['P-256', 'sha256'],
      ['P-256', 'sha384'],
      ['P-256', 'sha512'],
      ['P-384', 'sha256'],
      ['P-384', 'sha384'],
    ];
    for (const [curve, hash] of rows) {
      it(`${curve} / ${hash}: 10 fresh keys verify, a flipped digest bit does not`, () => {
        for (let i = 0; i < 10; i++) {
          const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
          const signature = sign(hash, message, privateKey);
          const digest = createHash(hash).update(message).digest();
          expect(verifyPrehashed(publicKey, hash, digest, signature)).to.equal('valid');
          digest[i] = (digest[i] ?? 0) ^ 1;
          expect(verifyPrehashed(publicKey, hash, digest, signature)).to.equal('invalid');
        }
      });
    }

    it('rejects a signature by another key', () => {
      const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const digest = createHash('sha256').update(message).digest();
      const signature = sign('sha256', message, signer.privateKey);
      expect(verifyPrehashed(other.publicKey, 'sha256', digest, signature)).to.equal('invalid');
    });

    it('rejects r or s out of range and malformed DER, without throwing', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const digest = createHash('sha256').update(message).digest();
      const zeroR = Buffer.from('3006020100020101', 'hex');
      expect(verifyPrehashed(publicKey, 'sha256', digest, zeroR)).to.equal('invalid');
      expect(verifyPrehashed(publicKey, 'sha256', digest, Buffer.from('not der'))).to.equal('invalid');
      expect(verifyPrehashed(publicKey, 'sha256', digest, Buffer.alloc(0))).to.equal('invalid');
    });
  });

  describe('other key types', () => {
    it('RSA PKCS#1 v1.5: the recovered DigestInfo must name the same algorithm and digest', () => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const signature = sign('sha256', message, privateKey);
      const digest = createHash('sha256').update(message).digest();
      expect(verifyPrehashed(publicKey, 'sha256', digest, signature)).to.equal('valid');
      expect(verifyPrehashed(publicKey, 'sha384', digest, signature)).to.equal('invalid');
      expect(verifyPrehashed(publicKey, 'sha256', Buffer.alloc(32), signature)).to.equal('invalid');
      expect(verifyPrehashed(publicKey, 'sha256', digest, Buffer.alloc(10))).to.equal('invalid');
    });

    it('Ed25519 signs messages, not digests: unsupported', () => {
      const { publicKey } = generateKeyPairSync('ed25519');
      const digest = createHash('sha256').update(message).digest();
      expect(verifyPrehashed(publicKey, 'sha256', digest, Buffer.alloc(64))).to.equal('unsupported');
    });

    it('curves other than P-256 and P-384 are unsupported', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
      const digest = createHash('sha256').update(message).digest();
      expect(verifyPrehashed(publicKey, 'sha256', digest, Buffer.alloc(8))).to.equal('unsupported');
    });
  });
});
