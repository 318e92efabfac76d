import { expect } from 'chai';
import { CredentialsError, credentialsFor, parseDockerConfig } from '../../../src/registry/credentials.js';

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
    ['registry.example.com:5000', 'team-a/app', []],
  ];
  for (const [registry, repo, users] of cases) {
    it(`${registry}/${repo} → [${users.join(', ')}]`, () => {
      expect(credentialsFor(entries, registry, repo).map((c) => c.username)).to.deep.equal(users);
    });
  }

  it('prefers auth over username/password', () => {
    expect(credentialsFor(entries, 'registry.example.com', 'x')[0]?.password).to.equal('allpass');
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
});
