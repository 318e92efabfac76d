import { expect } from 'chai';
import { compileGlob, globProblem, imageName, matchesGlob } from '../../../src/policy/glob.js';

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
      ['upper case', 'GHCR.io/app'],
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
