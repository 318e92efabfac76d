import { expect } from 'chai';
import { canonicalGlob, compileGlob, globProblem, imageName, matchesGlob } from '../../../src/policy/glob.js';

describe('policy/glob', () => {
  describe('matching', () => {
    const rows: [string, string, boolean][] = [
      ['registry.example.com/**', 'registry.example.com/a/b', true],
      ['registry.example.com/**', 'registry.example.com/a', true],
      ['registry.example.com/**', 'registry.example.com.evil.io/a', false],
      ['registry.example.com/**', 'other.example.com/registry.example.com/a', false],
      ['ghcr.io/myorg/*', 'ghcr.io/myorg/app', true],
      ['ghcr.io/myorg/*', 'ghcr.io/myorg/a/b', false],
      ['ghcr.io/myorg/*', 'ghcr.io/myorg/app:1.0', true],
      ['ghcr.io/myorg/*', `ghcr.io/myorg/app@sha256:${'a'.repeat(64)}`, true],
      ['ghcr.io/myorg/*', `ghcr.io/myorg/app:v1@sha256:${'a'.repeat(64)}`, true],
      ['ghcr.io/myorg/app', 'ghcr.io/myorg/app', true],
      ['ghcr.io/myorg/app', 'ghcr.io/myorg/app2', false],
      ['ghcr.io/my.rg/app', 'ghcr.io/myXrg/app', false],
      ['ghcr.io/*/app', 'ghcr.io/myorg/app', true],
      ['ghcr.io/**/app', 'ghcr.io/a/b/c/app', true],
      ['ghcr.io/app-*', 'ghcr.io/app-web', true],
      ['localhost:5000/*', 'localhost:5000/app:dev', true],
      ['localhost:5000/*', 'localhost:5001/app', false],
      ['docker.io/library/*', 'docker.io/library/nginx:latest', true],
      ['[::1]:5000/**', '[::1]:5000/a/b', true],
      ['[::1]:5000/**', '[::2]:5000/a', false],
    ];
    for (const [glob, ref, want] of rows) {
      it(`${glob} ${want ? 'matches' : 'does not match'} ${ref}`, () => {
        const compiled = compileGlob(glob);
        expect(compiled, 'compiles').to.not.equal(undefined);
        if (compiled !== undefined) expect(matchesGlob(compiled, ref)).to.equal(want);
      });
    }
  });

  describe('invalid globs', () => {
    const rows: [string, string][] = [
      ['empty', ''],
      ['an upper-case repository', 'ghcr.io/App'],
      ['brackets outside the registry', 'ghcr.io/[a]'],
      ['a tag', 'ghcr.io/app:v1'],
      ['a digest', 'ghcr.io/app@sha256:abc'],
      ['no registry', 'nginx'],
      ['three stars', 'ghcr.io/***'],
      ['regexp syntax', 'ghcr.io/(a|b)'],
    ];
    for (const [name, glob] of rows) {
      it(`refuses ${name}`, () => {
        expect(globProblem(glob)).to.be.a('string');
        expect(compileGlob(glob)).to.equal(undefined);
      });
    }
  });

  describe('finding 1: a glob whose registry is not spelled canonically is refused with its canonical spelling', () => {
    const rows: [string, string][] = [
      ['GHCR.IO/**', 'ghcr.io/**'],
      ['GHCR.io/app', 'ghcr.io/app'],
      ['ghcr.io:443/org/*', 'ghcr.io/org/*'],
      ['Registry.Example.com/team/**', 'registry.example.com/team/**'],
      ['index.docker.io/library/*', 'docker.io/library/*'],
      ['registry-1.docker.io/library/nginx', 'docker.io/library/nginx'],
      ['registry.hub.docker.com/**', 'docker.io/**'],
      ['docker.io/nginx', 'docker.io/library/nginx'],
      ['docker.io/*', 'docker.io/library/*'],
      ['*.EXAMPLE.com:443/**', '*.example.com/**'],
      ['[0:0:0:0:0:0:0:1]:5000/**', '[::1]:5000/**'],
      ['[FE80::1]:443/app', '[fe80::1]/app'],
    ];
    for (const [glob, canonical] of rows) {
      it(`${glob} → ${canonical}`, () => {
        expect(globProblem(glob), 'no other problem').to.equal(undefined);
        expect(canonicalGlob(glob)).to.equal(canonical);
        expect(compileGlob(glob), 'never compiled as written').to.equal(undefined);
        expect(canonicalGlob(canonical), 'the suggestion is canonical').to.equal(undefined);
        expect(globProblem(canonical), 'the suggestion is valid').to.equal(undefined);
      });
    }
    const canonical = [
      'ghcr.io/**',
      'docker.io/**',
      'docker.io/library/*',
      'localhost:5000/*',
      '[::1]:5000/**',
      '*.example.com/**',
    ];
    for (const glob of canonical) {
      it(`${glob} is canonical`, () => {
        expect(canonicalGlob(glob)).to.equal(undefined);
        expect(compileGlob(glob)).to.not.equal(undefined);
      });
    }
  });

  describe('imageName', () => {
    const rows: [string, string][] = [
      ['ghcr.io/o/r:v1', 'ghcr.io/o/r'],
      ['ghcr.io/o/r@sha256:ab', 'ghcr.io/o/r'],
      ['localhost:5000/r', 'localhost:5000/r'],
      ['localhost:5000/r:tag', 'localhost:5000/r'],
    ];
    for (const [ref, want] of rows) {
      it(`${ref} → ${want}`, () => {
        expect(imageName(ref)).to.equal(want);
      });
    }
  });

  it('matches in linear time on a hostile input', () => {
    const compiled = compileGlob('a.io/**/*/**/*/**/*/**x');
    expect(compiled).to.not.equal(undefined);
    if (compiled !== undefined) expect(matchesGlob(compiled, `a.io/${'a/'.repeat(2000)}`)).to.equal(false);
  });
});
