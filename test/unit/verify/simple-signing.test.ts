import { expect } from 'chai';
import {
  hasAnnotations,
  parseSimpleSigning,
  simpleSigningType,
  type SimpleSigningPayload,
} from '../../../src/verify/simple-signing.js';
import { readTestdata, readTestdataBytes } from '../../support/testdata.js';

const digest = `sha256:${'a'.repeat(64)}`;

const bytes = (value: unknown): Uint8Array =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

function payloadOf(input: Uint8Array): SimpleSigningPayload {
  const parsed = parseSimpleSigning(input);
  if (!parsed.ok) {
    throw new Error(`expected a payload, got: ${parsed.problem}`);
  }
  return parsed.payload;
}

const cosignPayload = (image: Record<string, unknown>, extra: Record<string, unknown> = {}): unknown => ({
  critical: { identity: { 'docker-reference': 'example.com/app' }, image, type: simpleSigningType },
  optional: null,
  ...extra,
});

describe('verify/simple-signing', () => {
  describe('kyverno simple-signing-payload-key (cases.json)', () => {
    const payload = readTestdataBytes('kyverno/simple-signing/payload-key/payload.json');

    it('extracts the manifest digest and the docker-reference', () => {
      const parsed = payloadOf(payload);
      expect(parsed.dockerManifestDigest).to.equal(
        'sha256:4a1c4b21597c1b4415bdbecb28a3296c6b5e23ca4f9feeb599860a1dac6a0108',
      );
      expect(parsed.dockerReference).to.equal('registry-v2.nirmata.io/pause');
    });

    it('has the required annotation {foo: bar}', () => {
      expect(hasAnnotations(payloadOf(payload), { foo: 'bar' })).to.equal(true);
    });

    it('lacks {foo: baz} and {missing: x}', () => {
      expect(hasAnnotations(payloadOf(payload), { foo: 'baz' })).to.equal(false);
      expect(hasAnnotations(payloadOf(payload), { foo: 'bar', missing: 'x' })).to.equal(false);
    });
  });

  describe('key lookup is case-insensitive, as in cosign’s Go decoder', () => {
    const spellings: [string, string][] = [
      ['docker-manifest-digest (cosign)', 'docker-manifest-digest'],
      ['Docker-manifest-digest (the spec example)', 'Docker-manifest-digest'],
      ['DOCKER-MANIFEST-DIGEST', 'DOCKER-MANIFEST-DIGEST'],
      ['with the Kelvin sign U+212A for k (Go folds it)', 'doc\u212Aer-manifest-digest'],
    ];
    for (const [name, key] of spellings) {
      it(name, () => {
        expect(payloadOf(bytes(cosignPayload({ [key]: digest }))).dockerManifestDigest).to.equal(digest);
      });
    }

    it('matches the outer keys case-insensitively too', () => {
      const doc = { Critical: { Image: { 'docker-manifest-digest': digest }, TYPE: simpleSigningType } };
      expect(payloadOf(bytes(doc)).dockerManifestDigest).to.equal(digest);
    });

    it('does not fold U+0130 onto "i" (Go does not either)', () => {
      const doc = {
        critical: { '\u0130mage': { 'docker-manifest-digest': digest }, type: simpleSigningType },
      };
      expect(parseSimpleSigning(bytes(doc)).ok).to.equal(false);
    });
  });

  describe('rejects', () => {
    const other = `sha256:${'b'.repeat(64)}`;
    const bad: [string, Uint8Array][] = [
      [
        'two spellings of the digest key',
        bytes(cosignPayload({ 'docker-manifest-digest': digest, 'Docker-Manifest-Digest': other })),
      ],
      [
        'another critical.type',
        bytes({
          critical: { image: { 'docker-manifest-digest': digest }, type: 'atomic container signature' },
        }),
      ],
      ['a missing critical.type', bytes({ critical: { image: { 'docker-manifest-digest': digest } } })],
      ['a missing digest', bytes(cosignPayload({}))],
      ['a non-string digest', bytes(cosignPayload({ 'docker-manifest-digest': 42 }))],
      ['an empty digest', bytes(cosignPayload({ 'docker-manifest-digest': '' }))],
      ['critical not an object', bytes({ critical: [] })],
      [
        'optional neither object nor null',
        bytes(cosignPayload({ 'docker-manifest-digest': digest }, { optional: 'x' })),
      ],
      ['a JSON array', bytes('[]')],
      ['text that is not JSON', bytes('this is not a signature, regardless of the annotation\n')],
      ['bytes that are not UTF-8', Uint8Array.from([0x7b, 0xff, 0x7d])],
    ];
    for (const [name, input] of bad) {
      it(name, () => {
        expect(parseSimpleSigning(input).ok).to.equal(false);
      });
    }
  });

  describe('parses', () => {
    it('a digest naming another image verbatim (the caller compares)', () => {
      const other = 'sha512:abc';
      expect(
        payloadOf(bytes(cosignPayload({ 'docker-manifest-digest': other }))).dockerManifestDigest,
      ).to.equal(other);
    });

    it('optional null as no annotations', () => {
      expect(payloadOf(bytes(cosignPayload({ 'docker-manifest-digest': digest }))).optional).to.deep.equal(
        {},
      );
    });

    it('annotations whose values are not strings, which never match a string', () => {
      const doc = cosignPayload(
        { 'docker-manifest-digest': digest },
        { optional: { timestamp: 1657296609 } },
      );
      expect(hasAnnotations(payloadOf(bytes(doc)), { timestamp: '1657296609' })).to.equal(false);
    });

    it('every containers-image simple-signing payload, with the digest and reference the collector computed', () => {
      const cases = JSON.parse(readTestdata('containers-image/cases.json')) as {
        cases: {
          dir: string;
          facts: { payload_manifest_digest?: string; payload_docker_reference?: string };
        }[];
      };
      const withPayload = cases.cases.filter((c) => c.facts.payload_manifest_digest !== undefined);
      expect(withPayload.length).to.be.greaterThan(5);
      for (const c of withPayload) {
        const parsed = payloadOf(readTestdataBytes(`containers-image/${c.dir}/signature-1.payload.json`));
        expect(parsed.dockerManifestDigest, c.dir).to.equal(c.facts.payload_manifest_digest);
        expect(parsed.dockerReference, c.dir).to.equal(c.facts.payload_docker_reference);
      }
    });
  });
});
