import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { parseDigest, type Digest } from '../../../src/base/digest.js';
import {
  artifactDigests,
  bindArtifact,
  subjectMatches,
  type Artifact,
} from '../../../src/verify/bundle-artifact.js';
import { parseBundle } from '../../../src/verify/bundle-parse.js';
import { readJson, testdataRoot } from '../../support/testdata.js';

const conformance = new URL('sigstore-conformance/bundle-verify/', testdataRoot);
const aTxtHex = 'a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf';

function digest(hex: string): Artifact {
  const parsed: Digest | undefined = parseDigest(`sha256:${hex}`);
  if (parsed === undefined) throw new TypeError(hex);
  return { kind: 'digest', digest: parsed };
}

/** The conformance DSSE bundle with its payload replaced (binding does not re-verify signatures). */
function dsseBundle(payload: string, payloadType = 'application/vnd.in-toto+json'): unknown {
  const json = readJson(new URL('happy-path-intoto-in-dsse-v3/bundle.sigstore.json', conformance)) as Record<
    string,
    unknown
  >;
  const envelope = json['dsseEnvelope'] as Record<string, unknown>;
  return {
    ...json,
    dsseEnvelope: { ...envelope, payload: Buffer.from(payload).toString('base64'), payloadType },
  };
}

const statement = (subjects: unknown[]): string =>
  JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: subjects, predicateType: 'x:y' });

describe('verify/bundle-artifact', () => {
  describe('subjectMatches compares every algorithm both sides know', () => {
    const bytes = Buffer.from('artifact');
    const known = artifactDigests({ kind: 'bytes', bytes });
    const hex = (a: string): string => createHash(a).update(bytes).digest('hex');
    const rows: [string, Record<string, string>, boolean][] = [
      ['sha256 equal', { sha256: hex('sha256') }, true],
      ['sha256 equal in upper case', { sha256: hex('sha256').toUpperCase() }, true],
      ['sha512 only, equal', { sha512: hex('sha512') }, true],
      ['sha256 equal but sha512 different', { sha256: hex('sha256'), sha512: hex('sha384') }, false],
      ['no algorithm in common', { sha1: 'abcd', gitCommit: 'abcd' }, false],
      ['sha256 different', { sha256: hex('sha512').slice(0, 64) }, false],
    ];
    for (const [name, subject, ok] of rows) {
      it(`${name} → ${ok ? 'match' : 'no match'}`, () => {
        expect(subjectMatches(subject, known)).to.equal(ok);
      });
    }

    it('a digest artifact knows only sha256', () => {
      expect([...artifactDigests(digest(aTxtHex)).keys()]).to.deep.equal(['sha256']);
      expect(subjectMatches({ sha512: hex('sha512') }, artifactDigests(digest(hex('sha256'))))).to.equal(
        false,
      );
    });
  });

  describe('bindArtifact', () => {
    it('returns the in-toto statement parsed from the verified payload', () => {
      const bundle = parseBundle(
        readJson(new URL('happy-path-intoto-in-dsse-v3/bundle.sigstore.json', conformance)),
      );
      const bound = bindArtifact(bundle, digest(aTxtHex));
      expect(bound.ok && bound.statement?.predicateType).to.equal('https://slsa.dev/provenance/v1');
    });

    it('DigestMismatch when no subject names the artifact', () => {
      const bundle = parseBundle(
        readJson(new URL('happy-path-intoto-in-dsse-v3/bundle.sigstore.json', conformance)),
      );
      expect(bindArtifact(bundle, digest('0'.repeat(64)))).to.include({
        ok: false,
        reason: 'DigestMismatch',
      });
    });

    it('AttestationInvalid when an in-toto payload is not a statement', () => {
      const bundle = parseBundle(dsseBundle('{"_type":"https://in-toto.io/Statement/v1","subject":[]}'));
      expect(bindArtifact(bundle, digest(aTxtHex))).to.include({ ok: false, reason: 'AttestationInvalid' });
    });

    it('matches a sha512-only subject when the artifact bytes are known', () => {
      const bytes = Buffer.from('a tarball');
      const sha512 = createHash('sha512').update(bytes).digest('hex');
      const bundle = parseBundle(dsseBundle(statement([{ digest: { sha512 } }])));
      expect(bindArtifact(bundle, { kind: 'bytes', bytes })).to.include({ ok: true });
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      expect(bindArtifact(bundle, digest(sha256))).to.include({ ok: false, reason: 'DigestMismatch' });
    });

    it('treats a non-in-toto payload as the artifact itself', () => {
      const bundle = parseBundle(dsseBundle('hello, world!', 'text/plain'));
      const helloHex = createHash('sha256').update('hello, world!').digest('hex');
      expect(bindArtifact(bundle, digest(helloHex))).to.deep.equal({ ok: true, payloadType: 'text/plain' });
      expect(bindArtifact(bundle, digest(aTxtHex))).to.include({ ok: false, reason: 'DigestMismatch' });
    });

    it('a message signature binds by its messageDigest', () => {
      const bundle = parseBundle(readJson(new URL('happy-path-v0.3/bundle.sigstore.json', conformance)));
      expect(bindArtifact(bundle, digest(aTxtHex))).to.deep.equal({ ok: true });
      expect(bindArtifact(bundle, digest('1'.repeat(64)))).to.include({
        ok: false,
        reason: 'DigestMismatch',
      });
    });
  });
});
