import { expect } from 'chai';
import { RegistryError } from '../../../src/registry/errors.js';
import {
  apiHost,
  canonicalRegistry,
  formatReference,
  parseImageId,
  parseReference,
} from '../../../src/registry/reference.js';

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
      ['Registry/app', 'registry/app:latest'],
      ['foo__bar/a-b--c.d', 'docker.io/foo__bar/a-b--c.d:latest'],
    ];
    for (const [input, want] of cases) {
      it(`${input} → ${want}`, () => {
        expect(formatReference(parseReference(input))).to.equal(want);
      });
    }
  });

  describe('finding 1: every spelling of a registry parses to one canonical name', () => {
    const cases: [string, string][] = [
      // The review's list: none of these may slip past a policy for the canonical name.
      ['GHCR.IO/org/app', 'ghcr.io/org/app:latest'],
      ['ghcr.io:443/org/app', 'ghcr.io/org/app:latest'],
      ['Registry.Example.com/team/app:v1', 'registry.example.com/team/app:v1'],
      ['registry-1.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
      ['index.docker.io/library/nginx', 'docker.io/library/nginx:latest'],
      ['registry.hub.docker.com/library/nginx', 'docker.io/library/nginx:latest'],
      // Aliases take the implicit library/ too, whatever their case or port.
      ['registry-1.docker.io/nginx', 'docker.io/library/nginx:latest'],
      ['Docker.IO:443/nginx:1.27', 'docker.io/library/nginx:1.27'],
      ['INDEX.DOCKER.IO/bitnami/redis', 'docker.io/bitnami/redis:latest'],
      [`GHCR.IO:443/org/app:v1@${d}`, `ghcr.io/org/app:v1@${d}`],
      ['ghcr.io:0443/org/app', 'ghcr.io/org/app:latest'],
      // Another port is another registry, and keeps its spelling.
      ['ghcr.io:5000/org/app', 'ghcr.io:5000/org/app:latest'],
      ['index.docker.io:5000/nginx', 'index.docker.io:5000/nginx:latest'],
      ['LOCALHOST:5000/app', 'localhost:5000/app:latest'],
      ['localhost:443/app', 'localhost/app:latest'],
      ['127.0.0.1:443/app', '127.0.0.1/app:latest'],
      // IPv6: compressed, lower-case hex, the port as for names.
      ['[::1]:5000/repo', '[::1]:5000/repo:latest'],
      ['[::1]/repo:v1', '[::1]/repo:v1'],
      ['[0:0:0:0:0:0:0:1]:5000/repo', '[::1]:5000/repo:latest'],
      [`[FE80::1]:443/repo@${d}`, `[fe80::1]/repo@${d}`],
      ['[2001:DB8::A]:5000/o/r:v1', '[2001:db8::a]:5000/o/r:v1'],
    ];
    for (const [input, want] of cases) {
      it(`${input} → ${want}`, () => {
        expect(formatReference(parseReference(input))).to.equal(want);
      });
    }
    it('the imageID a runtime reports is canonical too', () => {
      const info = parseImageId(`docker-pullable://GHCR.IO:443/org/app@${d}`);
      expect(info.kind === 'repoDigest' && formatReference(info.reference)).to.equal(`ghcr.io/org/app@${d}`);
    });
    it('canonicalRegistry refuses what is no host[:port]', () => {
      for (const bad of ['ghcr.io:99999', '[zz::1]', '[::1', 'x.123', 'a_b.io', ''])
        expect(canonicalRegistry(bad), bad).to.equal(undefined);
    });
    it('talks to Docker Hub at its API host whichever alias named it', () => {
      expect(apiHost(parseReference('registry.hub.docker.com/library/nginx').registry)).to.equal(
        'registry-1.docker.io',
      );
    });
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
      'ghcr.io:99999/app',
      '[::1/app',
      'GHCR.IO/Org/app',
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
