import { expect } from 'chai';
import { RegistryError } from '../../../src/registry/errors.js';
import { parseManifest } from '../../../src/registry/manifest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;
const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
const oci = 'application/vnd.oci.image.manifest.v1+json';
const idx = 'application/vnd.oci.image.index.v1+json';
const image = {
  schemaVersion: 2,
  mediaType: oci,
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 2 },
  layers: [
    {
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: d('b'),
      size: 10,
      annotations: { k: 'v' },
    },
  ],
  subject: { mediaType: idx, digest: d('c'), size: 5 },
};

describe('registry/manifest', () => {
  it('parses an image manifest with subject and annotations', () => {
    const m = parseManifest(enc(image), `${oci}; charset=utf-8`, 10);
    expect(m.kind).to.equal('image');
    expect(m.subject?.digest).to.equal(d('c'));
    expect(m.kind === 'image' && m.layers[0]?.annotations).to.deep.equal({ k: 'v' });
  });

  it('parses an index, also without mediaType in the body', () => {
    const m = parseManifest(
      enc({
        schemaVersion: 2,
        manifests: [
          { mediaType: oci, digest: d('d'), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
        ],
      }),
      idx,
      10,
    );
    expect(m.kind === 'index' && m.manifests[0]?.platform).to.deep.equal({
      os: 'linux',
      architecture: 'arm64',
    });
  });

  const rejects: [string, Uint8Array, string | undefined, string][] = [
    ['Content-Type disagreeing with mediaType', enc(image), idx, 'ProtocolError'],
    ['schema 1', enc({ ...image, schemaVersion: 1 }), oci, 'ProtocolError'],
    ['an unknown media type', enc({ ...image, mediaType: 'text/plain' }), undefined, 'ProtocolError'],
    [
      'a bad descriptor digest',
      enc({ ...image, config: { ...image.config, digest: 'sha256:XYZ' } }),
      oci,
      'ProtocolError',
    ],
    ['a negative size', enc({ ...image, config: { ...image.config, size: -1 } }), oci, 'ProtocolError'],
    [
      'more layers than allowed',
      enc({ ...image, layers: Array(11).fill(image.layers[0]) }),
      oci,
      'LimitExceeded',
    ],
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe]), oci, 'ProtocolError'],
    ['an HTML page', new TextEncoder().encode('<html></html>'), 'text/html', 'ProtocolError'],
    ['a JSON array', enc([image]), oci, 'ProtocolError'],
  ];
  for (const [name, body, ct, code] of rejects) {
    it(`rejects ${name} (${code})`, () => {
      expect(() => parseManifest(body, ct, 10))
        .to.throw(RegistryError)
        .with.property('code', code);
    });
  }
});
