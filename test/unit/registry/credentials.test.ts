import { expect } from 'chai';
import {
  CredentialsError,
  credentialsFor,
  parseDockerConfig,
  parsePullSecret,
  type RegistryCredentials,
} from '../../../src/registry/credentials.js';

const user = (c: RegistryCredentials | undefined): string | undefined =>
  c === undefined ? undefined : 'username' in c ? c.username : `token:${c.identityToken}`;

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('registry/credentials', () => {
  const config = JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hub:hubpass') },
      'ghcr.io': { username: 'gh', password: 'ghpass' },
      'registry.example.com/team-a': { auth: b64('a:apass') },
      'registry.example.com': { auth: b64('all:allpass'), username: 'ignored', password: 'ignored' },
      '*.corp.example': { auth: b64('glob:globpass') },
      'no-creds.example': { email: 'x@y' },
      'acr.example.io': { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh-me' },
    },
  });
  const entries = parseDockerConfig(config);

  const cases: [string, string, string[]][] = [
    ['docker.io', 'library/nginx', ['hub']],
    ['ghcr.io', 'o/r', ['gh']],
    ['registry.example.com', 'team-a/app', ['a', 'all']],
    ['registry.example.com', 'team-b/app', ['all']],
    ['registry.example.com', 'team-ab/app', ['all']],
    ['r.corp.example', 'x', ['glob']],
    ['corp.example', 'x', []],
    ['a.b.corp.example', 'x', []],
    ['no-creds.example', 'x', []],
    ['acr.example.io', 'x', ['token:refresh-me']],
    ['registry.example.com:5000', 'team-a/app', []],
  ];
  for (const [registry, repo, users] of cases) {
    it(`${registry}/${repo} → [${users.join(', ')}]`, () => {
      expect(credentialsFor(entries, registry, repo).map(user)).to.deep.equal(users);
    });
  }

  it('finding 1: keys spelled with upper case, :443 or a Docker Hub alias match the canonical registry', () => {
    const spelled = parseDockerConfig(
      JSON.stringify({
        auths: {
          'GHCR.IO:443': { auth: b64('gh:p') },
          'https://Registry.Example.com/team': { auth: b64('team:p') },
          'registry.hub.docker.com': { auth: b64('hub:p') },
          '*.Corp.Example:443': { auth: b64('glob:p') },
          'other.example:5000': { auth: b64('port:p') },
        },
      }),
    );
    const rows: [string, string, string[]][] = [
      ['ghcr.io', 'o/r', ['gh']],
      ['registry.example.com', 'team/app', ['team']],
      ['docker.io', 'library/nginx', ['hub']],
      ['r.corp.example', 'x', ['glob']],
      ['other.example:5000', 'x', ['port']],
      ['other.example', 'x', []],
    ];
    for (const [registry, repo, users] of rows)
      expect(credentialsFor(spelled, registry, repo).map(user), `${registry}/${repo}`).to.deep.equal(users);
  });

  it('prefers auth over username/password', () => {
    expect(credentialsFor(entries, 'registry.example.com', 'x')[0]).to.deep.equal({
      username: 'all',
      password: 'allpass',
    });
  });

  it('reads the legacy dockercfg map (no auths wrapper)', () => {
    const legacy = parseDockerConfig(JSON.stringify({ 'quay.io': { auth: b64('q:qp') } }));
    expect(credentialsFor(legacy, 'quay.io', 'o/r')).to.deep.equal([{ username: 'q', password: 'qp' }]);
  });

  it('rejects text that is not a JSON object', () => {
    expect(() => parseDockerConfig('not json'))
      .to.throw(CredentialsError)
      .with.property('code', 'DockerConfigInvalid');
    expect(() => parseDockerConfig('[1]'))
      .to.throw(CredentialsError)
      .with.property('code', 'DockerConfigInvalid');
  });

  describe('parsePullSecret', () => {
    const config = b64(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('u:p') } } }));
    it('reads kubernetes.io/dockerconfigjson', () => {
      expect(
        credentialsFor(
          parsePullSecret('kubernetes.io/dockerconfigjson', { '.dockerconfigjson': config }),
          'ghcr.io',
          'o/r',
        ),
      ).to.deep.equal([{ username: 'u', password: 'p' }]);
    });
    it('reads the legacy kubernetes.io/dockercfg', () => {
      const legacy = b64(JSON.stringify({ 'ghcr.io': { auth: b64('l:lp') } }));
      expect(
        credentialsFor(
          parsePullSecret('kubernetes.io/dockercfg', { '.dockercfg': legacy }),
          'ghcr.io',
          'o/r',
        ),
      ).to.deep.equal([{ username: 'l', password: 'lp' }]);
    });
    it('refuses other secret types and a missing key', () => {
      expect(() => parsePullSecret('Opaque', { '.dockerconfigjson': config }))
        .to.throw(CredentialsError)
        .with.property('code', 'DockerConfigInvalid');
      expect(() => parsePullSecret('kubernetes.io/dockerconfigjson', {}))
        .to.throw(CredentialsError)
        .with.property('code', 'DockerConfigInvalid');
    });
  });

  it('finding 4 (review): a config key of 1 MiB of slashes not at the end is read in linear time', () => {
    const key = `registry.example.com${'/'.repeat(1 << 20)}x`;
    const entries = parseDockerConfig(JSON.stringify({ auths: { [key]: { auth: b64('u:p') } } }));
    expect(entries).to.have.lengthOf(1);
    expect(entries[0]?.host).to.equal('registry.example.com');
  });
});
