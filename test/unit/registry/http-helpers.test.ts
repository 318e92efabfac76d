import { expect } from 'chai';
import { classifyIp } from '../../../src/registry/addresses.js';
import { nextLink } from '../../../src/registry/client.js';
import { notFoundKind } from '../../../src/registry/responses.js';
import { unknownReasonFor, type RegistryErrorCode } from '../../../src/registry/errors.js';
import { parseRetryAfter } from '../../../src/registry/transport.js';

describe('registry helpers', () => {
  describe('classifyIp', () => {
    const cases: [string, string][] = [
      ['127.0.0.1', 'loopback'],
      ['127.9.9.9', 'loopback'],
      ['::1', 'loopback'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['10.1.2.3', 'private'],
      ['172.16.0.1', 'private'],
      ['172.32.0.1', 'public'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['fd00::1', 'private'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['[::1]', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['8.8.8.8', 'public'],
    ];
    for (const [ip, want] of cases) {
      it(`${ip} is ${want}`, () => {
        expect(classifyIp(ip)).to.equal(want);
      });
    }
  });

  describe('parseRetryAfter', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    it('reads delta-seconds', () => {
      expect(parseRetryAfter('120', now)).to.equal(120_000);
    });
    it('reads an HTTP-date', () => {
      expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:30 GMT', now)).to.equal(30_000);
    });
    it('gives undefined for garbage or absence', () => {
      expect(parseRetryAfter('soon', now)).to.equal(undefined);
      expect(parseRetryAfter(undefined, now)).to.equal(undefined);
    });
  });

  describe('nextLink', () => {
    it('finds rel="next" among several links', () => {
      expect(
        nextLink('</v2/a/tags/list?n=1&last=a>; rel="prev", </v2/a/tags/list?n=1&last=b>; rel="next"'),
      ).to.equal('/v2/a/tags/list?n=1&last=b');
    });
    it('gives undefined without a next link', () => {
      expect(nextLink('</x>; rel="prev"')).to.equal(undefined);
      expect(nextLink(undefined)).to.equal(undefined);
    });
  });

  describe('notFoundKind (finding 2: only the registry\'s own "not found" means absent)', () => {
    const cases: [string, string][] = [
      ['{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}', 'manifest-unknown'],
      ['{"errors":[{"code":"NAME_UNKNOWN"},{"code":"MANIFEST_UNKNOWN"}]}', 'manifest-unknown'],
      [
        '{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}',
        'name-unknown',
      ],
      // Harbor's spelling of a missing manifest (goharbor/harbor#20764)
      [
        '{"errors":[{"code":"NOT_FOUND","message":"artifact test/app:sha256-ab.sig not found"}]}',
        'manifest-unknown',
      ],
      ['{"errors":[{"code":"BLOB_UNKNOWN"}]}', 'other'],
      ['<html><body>404 Not Found</body></html>', 'other'],
      ['404 page not found', 'other'],
      ['', 'other'],
      ['{"errors":"MANIFEST_UNKNOWN"}', 'other'],
      ['{"message":"MANIFEST_UNKNOWN"}', 'other'],
      ['null', 'other'],
      ['{"errors":[null,"MANIFEST_UNKNOWN"]}', 'other'],
    ];
    for (const [body, want] of cases) {
      it(`${JSON.stringify(body)} is ${want}`, () => {
        expect(notFoundKind(new TextEncoder().encode(body))).to.equal(want);
      });
    }
  });

  describe('unknownReasonFor', () => {
    // Every registry failure maps to an Unknown-class reason: the safety property in one table.
    const table: Record<RegistryErrorCode, string> = {
      Unavailable: 'RegistryUnavailable',
      RedirectRefused: 'RegistryUnavailable',
      Unauthorized: 'RegistryUnauthorized',
      CredentialsWithheld: 'RegistryUnauthorized',
      RateLimited: 'RateLimited',
      LimitExceeded: 'EvidenceIncomplete',
      DigestMismatch: 'EvidenceIncomplete',
      ProtocolError: 'EvidenceIncomplete',
      InvalidReference: 'DigestUnresolved',
    };
    for (const [code, reason] of Object.entries(table)) {
      it(`${code} → ${reason}`, () => {
        expect(unknownReasonFor(code as RegistryErrorCode)).to.equal(reason);
      });
    }
  });
});
