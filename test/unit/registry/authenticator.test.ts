import { expect } from 'chai';
import { Authenticator } from '../../../src/registry/authenticator.js';
import type { CredentialEntry } from '../../../src/registry/credentials.js';
import { defaultLimits } from '../../../src/registry/limits.js';
import { RegistryTransport } from '../../../src/registry/transport.js';

const repo = { registry: 'registry.example', repository: 'team/app' };
const basic = (user: string, path = ''): CredentialEntry => ({
  host: 'registry.example',
  path,
  credentials: { username: user, password: 'pw' },
});
const header = (user: string): string => `Basic ${Buffer.from(`${user}:pw`).toString('base64')}`;

function authenticator(credentials: () => readonly CredentialEntry[]): Authenticator {
  return new Authenticator(new RegistryTransport(defaultLimits), defaultLimits, {
    credentials,
    allowedRealmHosts: [],
    nowMs: () => 0,
  });
}

describe('registry/authenticator: Basic candidates', () => {
  it('offers every matching username/password entry, most specific first, without duplicates', () => {
    const auth = authenticator(() => [
      basic('anywhere'),
      basic('team', 'team'),
      { host: 'registry.example', path: '', credentials: { identityToken: 't' } },
      basic('anywhere'),
      { ...basic('elsewhere'), host: 'other.example' },
    ]);
    expect(auth.basicCandidates(repo)).to.deep.equal([header('team'), header('anywhere')]);
  });

  it('puts the one that worked first, while it is still configured', () => {
    let entries = [basic('a'), basic('b'), basic('c')];
    const auth = authenticator(() => entries);
    auth.accepted(repo, 'basic', header('b'));
    expect(auth.basicCandidates(repo)).to.deep.equal([header('b'), header('a'), header('c')]);
    // Rotated away: the remembered header is no longer offered.
    entries = [basic('a'), basic('c')];
    expect(auth.basicCandidates(repo)).to.deep.equal([header('a'), header('c')]);
  });

  it('reads the credentials at each call (a Secret rotated while running) and offers at most five', () => {
    let entries: CredentialEntry[] = [];
    const auth = authenticator(() => entries);
    expect(auth.basicCandidates(repo)).to.deep.equal([]);
    entries = Array.from({ length: 9 }, (_, i) => basic(`u${String(i)}`));
    expect(auth.basicCandidates(repo)).to.have.length(5);
  });
});
