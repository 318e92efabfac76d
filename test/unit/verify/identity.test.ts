import { expect } from 'chai';
import { VerifyError } from '../../../src/verify/errors.js';
import {
  exactIdentity,
  matchesIdentity,
  maxIdentityInputBytes,
  regexpIdentity,
} from '../../../src/verify/identity.js';

const gha = 'https://github.com/myorg/app/.github/workflows/release.yml@refs/heads/main';

describe('verify/identity', () => {
  it('matches exact identities by string equality only', () => {
    expect(matchesIdentity(exactIdentity(gha), gha)).to.equal(true);
    expect(matchesIdentity(exactIdentity(gha), `${gha}x`)).to.equal(false);
    // A dot is not a wildcard in an exact identity.
    expect(matchesIdentity(exactIdentity('https://github.com/a.b'), 'https://github.com/aXb')).to.equal(
      false,
    );
  });

  describe('RE2 patterns (unanchored, like cosign)', () => {
    const rows: [string, string, boolean][] = [
      ['^https://github\\.com/myorg/.+@refs/heads/main$', gha, true],
      ['^https://github\\.com/other/.+$', gha, false],
      ['myorg', gha, true],
      ['^myorg', gha, false],
      ['(?i)^HTTPS://GITHUB\\.COM/', gha, true],
    ];
    for (const [pattern, input, want] of rows) {
      it(`/${pattern}/ ${want ? 'matches' : 'does not match'}`, () => {
        expect(matchesIdentity(regexpIdentity(pattern), input)).to.equal(want);
      });
    }
  });

  describe('tells anchored patterns from unanchored ones', () => {
    const rows: [string, boolean][] = [
      ['^a$', true],
      ['^a', false],
      ['a$', false],
      ['^a\\$', false],
      ['\\Aa\\z', true],
    ];
    for (const [pattern, anchored] of rows) {
      it(`/${pattern}/ is ${anchored ? '' : 'not '}anchored`, () => {
        const m = regexpIdentity(pattern);
        expect(m.kind === 'regexp' ? m.anchored : undefined).to.equal(anchored);
      });
    }
  });

  it('rejects patterns RE2 does not accept (backreferences, lookahead)', () => {
    for (const bad of ['(a)\\1', '(?=a)', '[']) {
      expect(() => regexpIdentity(bad), bad)
        .to.throw(VerifyError)
        .with.property('code', 'IdentityPatternInvalid');
    }
  });

  it('never matches an input over 4 KiB', () => {
    const long = `https://github.com/${'a'.repeat(maxIdentityInputBytes)}`;
    expect(matchesIdentity(regexpIdentity('^https://'), long)).to.equal(false);
  });

  // No wall-clock bound here (it flaked under load): a backtracking engine takes about 2^4095 steps on the
  // 4 KiB near-miss and would never finish, so mocha's timeout is bound enough; RE2 answers in microseconds.
  it('answers (a+)+$ against a 50 KiB identity and a 4 KiB near-miss without backtracking', () => {
    const pattern = regexpIdentity('(a+)+$');
    expect(matchesIdentity(pattern, `${'a'.repeat(50 * 1024)}!`)).to.equal(false);
    expect(matchesIdentity(pattern, `${'a'.repeat(maxIdentityInputBytes - 1)}!`)).to.equal(false);
  });
});
