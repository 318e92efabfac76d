import { expect } from 'chai';
import { RegistryError } from '../../../src/registry/errors.js';
import { apiHost, formatReference, parseImageId, parseReference } from '../../../src/registry/reference.js';

const hex = 'a'.repeat(64);
const d = `sha256:${hex}`;

describe('registry/reference', () => {
  describe('parseReference normalises like distribution/reference', () => {
    const cases: [string, string][] = [
      ['nginx', 'docker.io/library/nginx:latest'],
      ['bitnami/redis:7', 'docker.io/bitnami/redis:7'],
      ['docker.io/nginx', 'docker.io/library/nginx:latest'],
      ['index.docker.io/nginx', 'docker.io/library/nginx:latest'],
      ['localhost/app', 'localhost/app:latest'],
      ['localhost:5000/app', 'localhost:5000/app:latest'],
      ['127.0.0.1:5000/a/b/c:v1.2_3', '127.0.0.1:5000/a/b/c:v1.2_3'],
      [`ghcr.io/o/r@${d}`, `ghcr.io/o/r@${d}`],
      [`ghcr.io/o/r:v1@${d}`, `ghcr.io/o/r:v1@${d}`],
      ['Registry/app', 'Registry/app:latest'],
      ['foo__bar/a-b--c.d', 'docker.io/foo__bar/a-b--c.d:latest'],
    ];
    for (const [input, want] of cases) {
      it(`${input} → ${want}`, () => {
        expect(formatReference(parseReference(input))).to.equal(want);
      });
    }
  });

  describe('parseReference rejects', () => {
    const bad = [
      '',
      'app/UPPER',
      'nginx@sha256:short',
      `nginx@sha256:${'A'.repeat(64)}`,
      'nginx:',
      'nginx:-bad',
      hex,
      'a//b',
      `a/${'b'.repeat(300)}`,
    ];
    for (const input of bad) {
      it(JSON.stringify(input.slice(0, 40)), () => {
        expect(() => parseReference(input))
          .to.throw(RegistryError)
          .with.property('code', 'InvalidReference');
      });
    }
  });

  describe('parseImageId', () => {
    it('takes the repo digest containerd reports', () => {
      const info = parseImageId(`docker.io/library/nginx@${d}`);
      expect(info.kind).to.equal('repoDigest');
      expect(info.kind === 'repoDigest' && info.reference.repository).to.equal('library/nginx');
    });
    it('strips docker-pullable://', () => {
      const info = parseImageId(`docker-pullable://quay.io/org/app@${d}`);
      expect(info.kind === 'repoDigest' && formatReference(info.reference)).to.equal(`quay.io/org/app@${d}`);
    });
    it('recognises a bare config digest, also behind docker://', () => {
      expect(parseImageId(d)).to.deep.equal({ kind: 'configDigest', digest: d });
      expect(parseImageId(`docker://${d}`)).to.deep.equal({ kind: 'configDigest', digest: d });
    });
    it('rejects an imageID without a digest', () => {
      expect(() => parseImageId('nginx:1.27'))
        .to.throw(RegistryError)
        .with.property('code', 'InvalidReference');
    });
  });

  it('talks to registry-1.docker.io for docker.io', () => {
    expect(apiHost('docker.io')).to.equal('registry-1.docker.io');
    expect(apiHost('ghcr.io')).to.equal('ghcr.io');
  });
});
