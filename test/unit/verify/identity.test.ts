import { expect } from 'chai';
import { VerifyError } from '../../../src/verify/errors.js';
import type { GithubWorkflowClaims } from '../../../src/verify/fulcio.js';
import {
  exactIdentity,
  githubWorkflowMismatch,
  matchesIdentity,
  maxIdentityInputBytes,
  regexpIdentity,
} from '../../../src/verify/identity.js';
import { readBundleLeaf } from '../../support/testdata.js';

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

  describe('githubWorkflowMismatch (cosign --certificate-github-workflow-*, exact equality)', () => {
    // Real GitHub Actions leaf: workflow_dispatch of sigstore-conformance/extremely-dangerous-public-oidc-beacon.
    const github = readBundleLeaf('sigstore-conformance/bundle-verify/happy-path-v0.1/bundle.sigstore.json');
    // Real private-CA leaf with the same GitHub SAN and none of the extensions.
    const bare = readBundleLeaf(
      'sigstore-conformance/bundle-verify/intoto-with-custom-trust-root/bundle.sigstore.json',
    );
    const all: GithubWorkflowClaims = {
      trigger: 'workflow_dispatch',
      sha: 'af785b6d3b0fa0c0aa1305faee7ce6036e8d90c4',
      name: 'Extremely dangerous OIDC beacon',
      repository: 'sigstore-conformance/extremely-dangerous-public-oidc-beacon',
      ref: 'refs/heads/main',
    };
    const rows: [string, GithubWorkflowClaims | undefined, 'match' | RegExp][] = [
      ['nothing expected', undefined, 'match'],
      ['all five claims', all, 'match'],
      ['an empty value (no constraint, as in cosign)', { trigger: '', ref: 'refs/heads/main' }, 'match'],
      ['another trigger', { trigger: 'push' }, /"workflow_dispatch" as GitHub workflow trigger .*not "push"/],
      ['another case', { name: 'extremely dangerous OIDC beacon' }, /name/],
      ['a prefix of the sha', { sha: 'af785b6d' }, /sha/],
      [
        'the repository as a URL',
        { repository: 'https://github.com/' + (all.repository ?? '') },
        /repository/,
      ],
      ['a short ref', { ref: 'main' }, /ref/],
      ['one wrong among right ones', { ...all, ref: 'refs/heads/dev' }, /ref/],
    ];
    for (const [what, expected, want] of rows) {
      it(`${what}: ${want === 'match' ? 'matches' : 'mismatches'}`, () => {
        const problem = githubWorkflowMismatch(expected, github);
        if (want === 'match') expect(problem).to.equal(undefined);
        else expect(problem).to.match(want);
      });
    }

    it('names the first mismatch in cosign order (trigger, sha, name, repository, ref)', () => {
      const problem = githubWorkflowMismatch({ ref: 'x', repository: 'x', trigger: 'x' }, github);
      expect(problem).to.match(/trigger/);
    });

    it('mismatches when the certificate lacks the extension, and when there is no certificate', () => {
      expect(githubWorkflowMismatch({ trigger: 'workflow_dispatch' }, bare)).to.match(/no usable/);
      expect(githubWorkflowMismatch({ trigger: 'workflow_dispatch' }, undefined)).to.match(/no usable/);
      expect(githubWorkflowMismatch({ trigger: '' }, bare)).to.equal(undefined);
    });
  });
});
