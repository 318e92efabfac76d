import { expect } from 'chai';
import { matchesPackage, parsePurl, purlKey, type Purl } from '../../../src/sbom/purl.js';

function parsed(text: string): Purl {
  const p = parsePurl(text);
  if (p === undefined) throw new Error(`test fixture ${text} does not parse`);
  return p;
}

describe('sbom/purl', () => {
  describe('purlKey after normalisation', () => {
    const rows: readonly (readonly [string, string])[] = [
      ['pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1', 'maven/org.apache.logging.log4j/log4j-core'],
      ['pkg:MAVEN/Org.Example/My-Lib@1', 'maven/Org.Example/My-Lib'],
      ['pkg:pypi/Django_REST_framework@3.0', 'pypi//django-rest-framework'],
      ['pkg:npm/%40angular/core@16.0.0', 'npm/@angular/core'],
      // packageurl-js lower-cases npm names (see purl.ts).
      ['pkg:npm/JSONStream@1.0.0', 'npm//jsonstream'],
      ['pkg:deb/Debian/OpenSSL@3.0.11-1?arch=amd64', 'deb/debian/openssl'],
      ['pkg:apk/Alpine/Busybox@1.36.1-r5', 'apk/alpine/busybox'],
      ['pkg:rpm/Fedora/NetworkManager@1.0-1', 'rpm/fedora/NetworkManager'],
      ['pkg:github/Package-URL/Purl-Spec@v1', 'github/package-url/purl-spec'],
      ['pkg:bitbucket/Birkenfeld/Pygments-Main@1', 'bitbucket/birkenfeld/pygments-main'],
      ['pkg:golang/github.com/Sirupsen/Logrus@v1.9.0', 'golang/github.com/sirupsen/logrus'],
      ['pkg:oci/Debian@sha256%3Aabc?repository_url=docker.io/library', 'oci//debian'],
      ['pkg:generic/Openssl@1.1', 'generic//Openssl'],
    ];
    for (const [text, key] of rows) {
      it(`${text} → ${key}`, () => {
        expect(purlKey(parsed(text))).to.equal(key);
      });
    }
  });

  describe('keeps version, qualifiers and subpath decoded', () => {
    it('percent-decodes the version', () => {
      expect(parsed('pkg:oci/debian@sha256%3Aabc').version).to.equal('sha256:abc');
    });
    it('reads qualifiers', () => {
      expect(parsed('pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie').qualifiers['arch']).to.equal(
        'i386',
      );
    });
    it('reads the subpath', () => {
      expect(parsed('pkg:golang/google.golang.org/genproto#googleapis/api/annotations').subpath).to.equal(
        'googleapis/api/annotations',
      );
    });
    it('has no version when none is given', () => {
      expect(parsed('pkg:npm/lodash').version).to.equal(undefined);
    });
  });

  describe('rejects without throwing', () => {
    for (const text of [
      '',
      'lodash',
      'pkg:',
      'pkg:npm',
      'pkg:/lodash@1',
      'http://example.com/x',
      'pkg:1npm/x@1',
    ]) {
      it(JSON.stringify(text), () => {
        expect(parsePurl(text)).to.equal(undefined);
      });
    }
  });

  describe('matchesPackage', () => {
    const rows: readonly (readonly [string, string, boolean])[] = [
      [
        'pkg:maven/org.apache.logging.log4j/log4j-core',
        'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1',
        true,
      ],
      [
        'pkg:maven/org.apache.logging.log4j/log4j-core',
        'pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1',
        false,
      ],
      [
        'pkg:maven/org.apache.logging.log4j/log4j-core',
        'pkg:maven/Org.Apache.Logging.Log4j/log4j-core@2.14.1',
        false,
      ],
      ['pkg:pypi/pyyaml', 'pkg:pypi/PyYAML@5.3', true],
      ['pkg:pypi/typing_extensions', 'pkg:pypi/typing-extensions@4.0', true],
      ['pkg:deb/debian/openssl?arch=amd64', 'pkg:deb/debian/openssl@3.0?arch=amd64&distro=bookworm', true],
      ['pkg:deb/debian/openssl?arch=amd64', 'pkg:deb/debian/openssl@3.0?arch=arm64', false],
      ['pkg:deb/debian/openssl?arch=amd64', 'pkg:deb/debian/openssl@3.0', false],
      ['pkg:deb/debian/openssl', 'pkg:deb/ubuntu/openssl@3.0', false],
      ['pkg:npm/lodash', 'pkg:pypi/lodash@1.0', false],
      ['pkg:npm/%40scope/lodash', 'pkg:npm/lodash@1.0', false],
    ];
    for (const [rule, component, expected] of rows) {
      it(`${rule} ${expected ? 'matches' : 'does not match'} ${component}`, () => {
        expect(matchesPackage(parsed(rule), parsed(component))).to.equal(expected);
      });
    }
  });
});
