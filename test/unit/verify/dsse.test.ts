import { generateKeyPairSync, sign } from 'node:crypto';
import { expect } from 'chai';
import {
  decodeBase64,
  inTotoPayloadType,
  maxDsseSignatures,
  parseDsseEnvelope,
  preAuthEncoding,
  verifyDsse,
  type DsseEnvelope,
} from '../../../src/verify/dsse.js';
import { parsePublicKey } from '../../../src/verify/keys.js';
import { readTestdataBytes as read } from '../../support/testdata.js';

function envelopeOf(bytes: Uint8Array): DsseEnvelope {
  const parsed = parseDsseEnvelope(bytes);
  if (!parsed.ok) {
    throw new Error(`expected an envelope, got: ${parsed.problem}`);
  }
  return parsed.envelope;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('verify/dsse', () => {
  describe('preAuthEncoding (formats.md §6)', () => {
    it('matches the test vector', () => {
      expect(
        preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
      ).to.equal('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    });

    it('gives the in-toto header', () => {
      const header = 'DSSEv1 28 application/vnd.in-toto+json 412 ';
      const pae = preAuthEncoding(inTotoPayloadType, Buffer.alloc(412, 0x7b));
      expect(pae.subarray(0, header.length).toString()).to.equal(header);
      expect(pae.length).to.equal(header.length + 412);
    });

    it('counts UTF-8 bytes, not UTF-16 code units', () => {
      expect(preAuthEncoding('t\u00e9', Buffer.from('\u00e9')).toString('utf8')).to.equal(
        'DSSEv1 3 t\u00e9 2 \u00e9',
      );
    });

    it('handles an empty body', () => {
      expect(preAuthEncoding('x', Buffer.alloc(0)).toString()).to.equal('DSSEv1 1 x 0 ');
    });
  });

  describe('decodeBase64', () => {
    const good: [string, string, string][] = [
      ['standard, padded', 'Pz8/Pw==', '????'],
      ['standard, unpadded', 'Pz8/Pw', '????'],
      ['URL-safe', 'Pz8_Pw==', '????'],
      ['URL-safe, unpadded', 'Pz8_Pw', '????'],
      ['empty', '', ''],
      ['with line breaks (as Go accepts)', 'Pz8/\r\nPw==\n', '????'],
    ];
    for (const [name, input, want] of good) {
      it(`decodes ${name}`, () => {
        expect(decodeBase64(input)?.toString()).to.equal(want);
      });
    }
    const bad: [string, string][] = [
      ['mixed alphabets', 'Pz8/Pw_-'],
      ['characters outside base64', 'Pz8 Pw=='],
      ['a dangling character', 'Pz8/P'],
      ['padding on a wrong length', 'Pz8/Pw='],
    ];
    for (const [name, input] of bad) {
      it(`refuses ${name}`, () => {
        expect(decodeBase64(input)).to.equal(undefined);
      });
    }
  });

  describe('parseDsseEnvelope', () => {
    it('parses a kyverno envelope and decodes its payload', () => {
      const envelope = envelopeOf(read('kyverno/attestations/pause2-attestation-0/envelope.dsse.json'));
      expect(envelope.payloadType).to.equal('https://example.com/CodeReview/v1');
      expect(JSON.parse(envelope.payload.toString()))
        .to.have.property('_type')
        .that.equals('https://in-toto.io/Statement/v0.1');
      expect(envelope.signatures).to.have.length(1);
      expect(envelope.signatures[0]?.keyid).to.equal('');
    });

    it('parses the cosign valid/custom envelope (in-toto payload type)', () => {
      const envelope = envelopeOf(read('cosign/policy-attestations/valid-custom/custom'));
      expect(envelope.payloadType).to.equal(inTotoPayloadType);
      expect(JSON.parse(envelope.payload.toString()))
        .to.have.property('predicateType')
        .that.equals('https://cosign.sigstore.dev/attestation/v1');
    });

    const sig = { sig: 'MEUC' };
    const bad: [string, Buffer][] = [
      ['not JSON', Buffer.from('{')],
      ['not an object', json([])],
      ['no payloadType', json({ payload: 'e30=', signatures: [sig] })],
      ['an empty payloadType', json({ payloadType: '', payload: 'e30=', signatures: [sig] })],
      ['a payload that is not base64', json({ payloadType: 't', payload: 'e30=!', signatures: [sig] })],
      ['no signatures', json({ payloadType: 't', payload: 'e30=', signatures: [] })],
      [
        'too many signatures',
        json({
          payloadType: 't',
          payload: 'e30=',
          signatures: Array.from({ length: maxDsseSignatures + 1 }, () => sig),
        }),
      ],
      ['an empty sig', json({ payloadType: 't', payload: 'e30=', signatures: [{ sig: '' }] })],
      [
        'a keyid that is not a string',
        json({ payloadType: 't', payload: 'e30=', signatures: [{ sig: 'MEUC', keyid: 1 }] }),
      ],
    ];
    for (const [name, input] of bad) {
      it(`refuses ${name}`, () => {
        expect(parseDsseEnvelope(input).ok).to.equal(false);
      });
    }
  });

  describe('verifyDsse', () => {
    const kyverno = 'kyverno/attestations/pause2-attestation-0/';
    const cosignPub = parsePublicKey(read(`${kyverno}cosign.pub`).toString());
    const otherPub = parsePublicKey(read(`${kyverno}other-key.pub`).toString());

    it('returns the verified payload of a kyverno envelope under cosign.pub', () => {
      const envelope = envelopeOf(read(`${kyverno}envelope.dsse.json`));
      const verified = verifyDsse(envelope, cosignPub);
      expect(verified?.payload.equals(envelope.payload)).to.equal(true);
      expect(verified?.signature.equals(envelope.signatures[0]?.sig ?? Buffer.alloc(0))).to.equal(true);
    });

    it('returns nothing under other-key.pub', () => {
      expect(verifyDsse(envelopeOf(read(`${kyverno}envelope.dsse.json`)), otherPub)).to.equal(undefined);
    });

    it('accepts the same envelope re-encoded in URL-safe base64', () => {
      const original = JSON.parse(read(`${kyverno}envelope.dsse.json`).toString()) as {
        payload: string;
        signatures: { sig: string }[];
      };
      const urlSafe = (s: string): string => Buffer.from(s, 'base64').toString('base64url');
      const reencoded = json({
        ...original,
        payload: urlSafe(original.payload),
        signatures: original.signatures.map((s) => ({ sig: urlSafe(s.sig) })),
      });
      expect(verifyDsse(envelopeOf(reencoded), cosignPub)).to.not.equal(undefined);
    });

    it('fails when the payload type is changed (it is signed through the PAE)', () => {
      const envelope = envelopeOf(read(`${kyverno}envelope.dsse.json`));
      expect(verifyDsse({ ...envelope, payloadType: inTotoPayloadType }, cosignPub)).to.equal(undefined);
    });

    it('fails when the payload is changed by one byte', () => {
      const envelope = envelopeOf(read(`${kyverno}envelope.dsse.json`));
      const payload = Buffer.from(envelope.payload);
      const at = payload.length - 2;
      payload.writeUInt8(payload.readUInt8(at) ^ 1, at);
      expect(verifyDsse({ ...envelope, payload }, cosignPub)).to.equal(undefined);
    });

    it('finds the one signature that verifies among several, ignoring keyid', () => {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const payload = Buffer.from('{}');
      const good = sign('sha256', preAuthEncoding('t', payload), pair.privateKey);
      const envelope: DsseEnvelope = {
        payloadType: 't',
        payload,
        signatures: [{ sig: Buffer.from('MEUCIQ', 'base64'), keyid: 'the-right-key' }, { sig: good }],
      };
      expect(verifyDsse(envelope, pair.publicKey)?.signature.equals(good)).to.equal(true);
    });

    it('cosign valid/custom: no key exists upstream, so a generated key is a KeyMismatch-class failure', () => {
      const envelope = envelopeOf(read('cosign/policy-attestations/valid-custom/custom'));
      expect(verifyDsse(envelope, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).to.equal(
        undefined,
      );
    });
  });
});
