import { expect } from 'chai';
import {
  mayReceiveCredentials,
  parseChallenge,
  parseTokenResponse,
  TokenCache,
} from '../../../src/registry/auth.js';
import { RegistryError } from '../../../src/registry/errors.js';

describe('registry/auth', () => {
  describe('parseChallenge', () => {
    it('reads a Docker Hub Bearer challenge', () => {
      const c = parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      );
      expect(c?.scheme).to.equal('bearer');
      expect(c?.params).to.deep.equal({
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/nginx:pull',
      });
    });
    it('reads Basic and unquoted parameters', () => {
      expect(parseChallenge('Basic realm=registry')).to.deep.equal({
        scheme: 'basic',
        params: { realm: 'registry' },
      });
    });
    it('unescapes quoted-pair characters', () => {
      expect(parseChallenge('Bearer realm="a\\"b"')?.params['realm']).to.equal('a"b');
    });
    it('ignores other schemes and a missing header', () => {
      expect(parseChallenge('Negotiate abc')).to.equal(undefined);
      expect(parseChallenge(undefined)).to.equal(undefined);
    });
  });

  describe('TokenCache', () => {
    it('expires tokens 30 s before expires_in, counted from local receive time', () => {
      let now = 1_000_000;
      const cache = new TokenCache(() => now);
      cache.set('k', 't', 300);
      now += 269_000;
      expect(cache.get('k')).to.equal('t');
      now += 1_000;
      expect(cache.get('k')).to.equal(undefined);
    });
    it('defaults expires_in to 60 s', () => {
      let now = 0;
      const cache = new TokenCache(() => now);
      cache.set('k', 't', undefined);
      now = 29_999;
      expect(cache.get('k')).to.equal('t');
      now = 30_000;
      expect(cache.get('k')).to.equal(undefined);
    });
  });

  describe('mayReceiveCredentials', () => {
    const cases: [string, string, string[], boolean][] = [
      ['https://ghcr.io/token', 'ghcr.io', [], true],
      ['https://auth.docker.io/token', 'registry-1.docker.io', ['auth.docker.io'], true],
      ['https://auth.docker.io/token', 'registry-1.docker.io', [], false],
      ['http://ghcr.io/token', 'ghcr.io', [], false],
      ['https://evil.example/token', 'ghcr.io', [], false],
      ['https://registry.local/token', 'registry.local:5000', [], true],
    ];
    for (const [realm, host, allow, want] of cases) {
      it(`${realm} for ${host}${allow.length ? ` (allow ${allow.join(',')})` : ''} → ${String(want)}`, () => {
        expect(mayReceiveCredentials(new URL(realm), host, allow)).to.equal(want);
      });
    }
  });

  describe('parseTokenResponse', () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    it('takes token or access_token and expires_in', () => {
      expect(parseTokenResponse(enc({ token: 'a', expires_in: 300 }))).to.deep.equal({
        token: 'a',
        expiresIn: 300,
      });
      expect(parseTokenResponse(enc({ access_token: 'b' }))).to.deep.equal({
        token: 'b',
        expiresIn: undefined,
      });
    });
    it('rejects a response without a token', () => {
      expect(() => parseTokenResponse(enc({ nope: 1 })))
        .to.throw(RegistryError)
        .with.property('code', 'ProtocolError');
      expect(() => parseTokenResponse(new TextEncoder().encode('<html>')))
        .to.throw(RegistryError)
        .with.property('code', 'ProtocolError');
    });
  });
});
