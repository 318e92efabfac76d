import { expect } from 'chai';
import { isStrictBase64, parseBundle } from '../../../src/verify/bundle-parse.js';
import { VerifyError } from '../../../src/verify/errors.js';
import { readJson, testdataRoot } from '../../support/testdata.js';

/** A valid v0.3 messageSignature bundle to mutate. */
function happyBundle(): Record<string, unknown> {
  const url = new URL(
    'sigstore-conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json',
    testdataRoot,
  );
  return readJson(url) as Record<string, unknown>;
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error: unknown) {
    return error instanceof VerifyError ? error.code : 'not a VerifyError';
  }
}

describe('verify/bundle-parse', () => {
  describe('media types', () => {
    const rows: [string, boolean][] = [
      ['application/vnd.dev.sigstore.bundle+json;version=0.3', true],
      ['application/vnd.dev.sigstore.bundle.v0.3+json', true],
      ['application/vnd.dev.sigstore.bundle+json;version=0.4', true],
      ['application/vnd.dev.sigstore.bundle.v0.2+json', false],
      ['application/vnd.dev.sigstore.bundle+json;version=1.0', false],
      ['application/vnd.dev.sigstore.bundle+json;version=99.9', false],
      ['application/vnd.dev.sigstore.bundle.v0.3+json; charset=utf-8', false],
      ['application/json', false],
    ];
    for (const [mediaType, ok] of rows) {
      it(`${ok ? 'accepts' : 'rejects'} ${mediaType} on a v0.3-shaped bundle`, () => {
        const code = errorCode(() => parseBundle({ ...happyBundle(), mediaType }));
        expect(code).to.equal(ok ? undefined : 'BundleInvalid');
      });
    }

    it('validates v0.1 by its own rules (tlog entries need an inclusion promise)', () => {
      const url = new URL(
        'sigstore-conformance/bundle-verify/happy-path-v0.1/bundle.sigstore.json',
        testdataRoot,
      );
      const bundle = parseBundle(readJson(url));
      expect(bundle.mediaType).to.equal('application/vnd.dev.sigstore.bundle+json;version=0.1');
    });
  });

  describe('strict base64', () => {
    const rows: [string, boolean][] = [
      ['', true],
      ['aGVsbG8=', true],
      ['aGVsbG8', true],
      ['aGk-_w==', true],
      ['aGk+/w==', true],
      ['aGVs\nbG8=', true],
      ['aGk+_w==', false],
      ['INVALID!!!BASE64!!!ENCODING====', false],
      ['aGVsbG8==', false],
      ['a', false],
      ['aGVsbG8=aGVs', false],
    ];
    for (const [text, ok] of rows) {
      it(`${ok ? 'accepts' : 'rejects'} ${JSON.stringify(text)}`, () => {
        expect(isStrictBase64(text)).to.equal(ok);
      });
    }

    it('rejects a bundle whose signature is not base64, naming the field', () => {
      const bundle = happyBundle();
      bundle['messageSignature'] = { ...(bundle['messageSignature'] as object), signature: 'not*base64' };
      expect(() => parseBundle(bundle)).to.throw(VerifyError, 'messageSignature.signature');
    });
  });

  describe('other checks', () => {
    it('rejects a negative log index', () => {
      const bundle = happyBundle();
      const material = bundle['verificationMaterial'] as { tlogEntries: Record<string, unknown>[] };
      const entry = material.tlogEntries[0];
      if (entry === undefined) throw new Error('fixture has no tlog entry');
      entry['logIndex'] = '-1';
      expect(errorCode(() => parseBundle(bundle))).to.equal('BundleInvalid');
    });

    it('rejects what is not a JSON object', () => {
      for (const json of [null, [], 'bundle', 42]) {
        expect(errorCode(() => parseBundle(json))).to.equal('BundleInvalid');
      }
    });

    it('reports the fields @sigstore/bundle found invalid', () => {
      const bundle = happyBundle();
      delete bundle['verificationMaterial'];
      expect(() => parseBundle(bundle)).to.throw(VerifyError, 'verificationMaterial');
    });
  });
});
