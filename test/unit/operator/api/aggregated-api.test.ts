import { createPrivateKey, X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { der, int, time } from '../../../../src/base/der.js';
import {
  answerPackageQuery,
  PackageQueryForbidden,
  readPackageQuery,
  type PackageQuery,
} from '../../../../src/operator/api/package-query.js';
import {
  allowedProxy,
  parseRequestHeaderConfig,
  userFromHeaders,
  type RequestHeaderConfig,
} from '../../../../src/operator/api/front-proxy.js';
import { age, imageVerdict, runningImageName, verdictTable } from '../../../../src/operator/api/resources.js';
import { mintServingCert } from '../../../../src/operator/tls/serving-cert.js';
import type { ComponentHit } from '../../../../src/operator/inventory/packages.js';
import { componentsView, imagesView } from '../../../../src/operator/inventory/views.js';
import { trimPod } from '../../../../src/operator/pod.js';
import type { ContainerResult } from '../../../../src/operator/verdicts/policy-status.js';
import { containerResult } from '../../../support/container-results.js';
import { parsePackageRule } from '../../../../src/sbom/query.js';

const digest = `sha256:${'a'.repeat(64)}`;
const pod = trimPod({
  metadata: { namespace: 'shop', name: 'cart-1', uid: 'u', creationTimestamp: '2026-12-01T00:00:00Z' },
  spec: {
    containers: [
      { name: 'app', image: 'reg.test/cart:1' },
      { name: 'side', image: 'reg.test/side:1' },
    ],
  },
  status: {
    phase: 'Running',
    containerStatuses: [
      { name: 'app', imageID: `reg.test/cart@${digest}`, state: { running: {} } },
      { name: 'side', state: { waiting: {} } },
    ],
  },
});
if (pod === undefined) throw new Error('fixture');

const result = (
  policy: string,
  verdict: ContainerResult['verdict'],
  extra: Partial<ContainerResult> = {},
): ContainerResult => containerResult(verdict, { policy, message: '', ...extra });

const config: RequestHeaderConfig = {
  ca: '-----BEGIN CERTIFICATE-----',
  allowedNames: ['front-proxy-client'],
  usernameHeaders: ['x-remote-user'],
  uidHeaders: ['x-remote-uid'],
  groupHeaders: ['x-remote-group'],
  extraPrefixes: ['x-remote-extra-'],
};

describe('operator aggregated API', () => {
  describe('front proxy (delegated authentication)', () => {
    it('reads the request-header settings the API server publishes, and none without a front-proxy CA', () => {
      const parsed = parseRequestHeaderConfig({
        'requestheader-client-ca-file': '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n',
        'requestheader-allowed-names': '["front-proxy-client"]',
        'requestheader-username-headers': '["X-Remote-User"]',
        'requestheader-group-headers': '["X-Remote-Group"]',
        'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      });
      expect(parsed).to.deep.include({
        allowedNames: ['front-proxy-client'],
        usernameHeaders: ['x-remote-user'],
        uidHeaders: [],
        groupHeaders: ['x-remote-group'],
        extraPrefixes: ['x-remote-extra-'],
      });
      expect(parseRequestHeaderConfig({ 'client-ca-file': 'x' })).to.equal(undefined);
      expect(() =>
        parseRequestHeaderConfig({
          'requestheader-client-ca-file': '-----BEGIN CERTIFICATE-----',
          'requestheader-allowed-names': '{"not":"a list"}',
        }),
      ).to.throw(/JSON list/);
    });

    it('takes the user, every group header value apart (commas included) and decoded extra keys', () => {
      const user = userFromHeaders(config, {
        'x-remote-user': ['alice', 'mallory'],
        'x-remote-uid': ['42'],
        'x-remote-group': ['team,a', 'system:authenticated'],
        'x-remote-extra-scopes%2fread': ['x'],
        'x-remote-extra-': ['ignored: no key'],
        'x-other': ['y'],
      });
      expect(user).to.deep.equal({
        username: 'alice',
        uid: '42',
        groups: ['team,a', 'system:authenticated'],
        extra: { 'scopes/read': ['x'] },
      });
      expect(userFromHeaders(config, { 'x-remote-group': ['system:masters'] })).to.equal(undefined);
      expect(userFromHeaders(config, { 'x-remote-user': [''] })).to.equal(undefined);
    });

    it('refuses, never cuts, more groups or extra values than it reviews; extra keys may be __proto__', () => {
      const many = Array.from({ length: 257 }, (_, i) => `g${String(i)}`);
      expect(userFromHeaders(config, { 'x-remote-user': ['a'], 'x-remote-group': many })).to.equal(undefined);
      expect(userFromHeaders(config, { 'x-remote-user': ['a'], 'x-remote-extra-k': many })).to.equal(
        undefined,
      );
      expect(
        userFromHeaders(config, { 'x-remote-user': ['a'], 'x-remote-group': many.slice(1) })?.groups,
      ).to.have.length(256);
      const odd = userFromHeaders(config, {
        'x-remote-user': ['a'],
        'x-remote-extra-__proto__': ['x'],
        'x-remote-extra-constructor': ['y'],
      });
      expect(Object.keys(odd?.extra ?? {}).sort()).to.deep.equal(['__proto__', 'constructor']);
    });

    it('accepts only the allowed proxy names (any name when the API server allows all)', () => {
      expect(allowedProxy(config, 'front-proxy-client')).to.equal(true);
      expect(allowedProxy(config, 'system:admin')).to.equal(false);
      expect(allowedProxy(config, undefined)).to.equal(false);
      expect(allowedProxy({ ...config, allowedNames: [] }, 'anyone')).to.equal(true);
    });
  });

  describe('serving certificate', () => {
    it('mints a CA and a serverAuth leaf for the Service names, chained and valid now', () => {
      const now = new Date('2026-12-05T00:00:00Z');
      const minted = mintServingCert(['svc.ns.svc', 'svc.ns.svc.cluster.local'], now, 30);
      const [leafPem] = minted.certPem.split(/(?<=-----END CERTIFICATE-----\n)/);
      const leaf = new X509Certificate(leafPem ?? '');
      const ca = new X509Certificate(minted.caPem);
      expect(leaf.verify(ca.publicKey)).to.equal(true);
      expect(leaf.checkIssued(ca)).to.equal(true);
      expect(ca.ca).to.equal(true);
      expect(leaf.ca).to.equal(false);
      expect(leaf.subjectAltName).to.equal('DNS:svc.ns.svc, DNS:svc.ns.svc.cluster.local');
      expect(leaf.checkHost('svc.ns.svc')).to.equal('svc.ns.svc');
      expect(leaf.checkHost('other.ns.svc')).to.equal(undefined);
      expect(leaf.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
      expect(new Date(leaf.validFrom) < now && new Date(leaf.validTo) > now).to.equal(true);
      expect(minted.notAfter.toISOString()).to.equal('2027-01-04T00:00:00.000Z');
      expect(leaf.checkPrivateKey(createPrivateKey(minted.keyPem))).to.equal(true);
      expect(() => mintServingCert([], now)).to.throw(/DNS name/);
    });

    it('writes DER integers and times as X.509 wants them', () => {
      expect(int(0).toString('hex')).to.equal('020100');
      expect(int(127).toString('hex')).to.equal('02017f');
      expect(int(128).toString('hex')).to.equal('02020080');
      expect(int(65_536).toString('hex')).to.equal('0203010000');
      expect(der(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex')).to.equal('0482012c');
      expect(time(new Date('2049-12-31T23:59:59Z')).toString()).to.contain('491231235959Z');
      expect(time(new Date('2050-01-01T00:00:00Z'))[0]).to.equal(0x18); // GeneralizedTime
    });
  });

  describe('resources', () => {
    it("builds a pod's ImageVerdict: worst verdict, the deciding policies' reasons, earliest validUntil", () => {
      const v = imageVerdict(pod, [
        result('a', 'Compliant', { validUntil: Date.parse('2027-01-02T00:00:00Z') }),
        result('b', 'NonCompliant', { reasons: ['SignatureMissing', 'ProvenanceMismatch'] }),
        result('c', 'Unknown', { reasons: ['RegistryUnavailable'], stale: true }),
      ]);
      expect(v.metadata).to.deep.equal({
        name: 'cart-1',
        namespace: 'shop',
        uid: 'u',
        creationTimestamp: '2026-12-01T00:00:00Z',
      });
      const [app, side] = v.containers;
      expect(app).to.deep.include({
        status: 'Judged',
        verdict: 'NonCompliant',
        reasons: ['ProvenanceMismatch', 'SignatureMissing'],
        stale: true,
        digest: `reg.test/cart@${digest}`,
        validUntil: '2027-01-02T00:00:00.000Z',
      });
      expect(app?.policies.map((p) => p.name)).to.deep.equal(['a', 'b', 'c']);
      expect(side).to.deep.include({ status: 'Pending', reasons: [], stale: false });
      expect(side).to.not.have.property('verdict');
      expect(imageVerdict(pod, []).containers[0]?.status).to.equal('NotJudged');
    });

    it('drops a creationTimestamp the API server could not have written', () => {
      const odd = trimPod({ metadata: { namespace: 'n', name: 'p', creationTimestamp: '<script>' } });
      expect(odd?.createdAt).to.equal(undefined);
    });

    it('tables one row per container with at most three reasons shown', () => {
      const reasons = [
        'SignatureMissing',
        'SignatureInvalid',
        'SbomMissing',
        'SbomTooOld',
        'SbomUndated',
      ] as const;
      const table = verdictTable(
        [imageVerdict(pod, [result('a', 'NonCompliant', { reasons })])],
        Date.parse('2026-12-01T03:00:00Z'),
      ) as { rows: { cells: unknown[]; object: { metadata: { namespace: string } } }[] };
      expect(table.rows.map((r) => r.cells.slice(0, 6))).to.deep.equal([
        ['cart-1', 'app', 'reg.test/cart:1', 'NonCompliant', 'SbomMissing,SbomTooOld,SbomUndated,+2', '3h'],
        ['cart-1', 'side', 'reg.test/side:1', 'Pending', '', '3h'],
      ]);
      expect(table.rows[0]?.object.metadata.namespace).to.equal('shop');
    });

    it('formats ages like kubectl', () => {
      const at = Date.parse('2026-12-10T00:00:00Z');
      expect(age('2026-12-09T23:59:30Z', at)).to.equal('30s');
      expect(age('2026-12-09T23:50:00Z', at)).to.equal('10m');
      expect(age('2026-12-09T20:00:00Z', at)).to.equal('4h');
      expect(age('2026-12-01T00:00:00Z', at)).to.equal('9d');
      expect(age(undefined, at)).to.equal('<unknown>');
      expect(age('not a time', at)).to.equal('<unknown>');
    });

    it('names RunningImages apart when two repositories run the same digest', () => {
      const a = runningImageName(`reg.test/a@${digest}`);
      expect(a).to.match(/^a{16}-[0-9a-f]{8}$/);
      expect(runningImageName(`reg.test/b@${digest}`)).to.not.equal(a);
    });

    it('lists images with their pods, namespaces and worst verdict per policy', () => {
      const pods = new Map([['shop/cart-1', pod]]);
      const results = new Map([['shop/cart-1', [result('a', 'Compliant'), result('b', 'NonCompliant')]]]);
      expect(imagesView(pods, results).images).to.deep.equal([
        {
          image: `reg.test/cart@${digest}`,
          references: ['reg.test/cart:1'],
          pods: 1,
          namespaces: ['shop'],
          verdicts: { a: 'Compliant', b: 'NonCompliant' },
        },
      ]);
    });
  });

  describe('PackageQuery', () => {
    const body = (spec: unknown, kind = 'PackageQuery'): string =>
      JSON.stringify({ apiVersion: 'inventory.sigwatch.dev/v1alpha1', kind, spec });
    const purl = 'pkg:maven/org.apache.logging.log4j/log4j-core';

    it('reads a query and refuses anything else with a usage error', () => {
      expect(readPackageQuery(body({ purl, versions: '<2.17.1' }), parsePackageRule).spec).to.deep.equal({
        purl,
        versions: '<2.17.1',
      });
      for (const [text, why] of [
        [body({ purl }, 'SubjectAccessReview'), /kind PackageQuery/],
        [JSON.stringify([1]), /not a PackageQuery/],
        [body(undefined), /spec is required/],
        [body({ purl, namespace: 'x' }), /unknown field spec.namespace/],
        [body({ purl: 'p'.repeat(3000) }), /at most 2048/],
        [body({ purl, versions: 7 }), /spec.versions/],
        [body({ purl: 'not-a-purl' }), /purl/i],
      ] as const)
        expect(() => readPackageQuery(text, parsePackageRule), text.slice(0, 80)).to.throw(why);
      expect(() => readPackageQuery('{', parsePackageRule)).to.throw(SyntaxError);
    });

    const hit = (namespace: string, pod: string, inRange: ComponentHit['inRange'] = true): ComponentHit => ({
      namespace,
      pod,
      container: 'app',
      image: 'i',
      digestKey: 'd',
      purl,
      version: '2.14.1',
      inRange,
      signed: true,
    });

    const query = (namespaces?: string[]): PackageQuery => ({
      spec: { purl, ...(namespaces === undefined ? {} : { namespaces }) },
      rule: parsePackageRule(purl, '<2.17.1'),
    });
    const hits = [hit('a', 'p1'), hit('b', 'p2'), hit('b', 'p3'), hit('c', 'p4', false)];
    /** The pods' search, as the controller does it: only in the scope, and recorded. */
    const searched: (string[] | 'all')[] = [];
    const hitsIn =
      (list: readonly ComponentHit[]) =>
      (ns: ReadonlySet<string> | undefined): readonly ComponentHit[] => {
        searched.push(ns === undefined ? 'all' : [...ns]);
        return ns === undefined ? list : list.filter((h) => ns.has(h.namespace));
      };

    it('answers for every namespace to a cluster-wide reader, asking one review', async () => {
      const asked: string[] = [];
      const all = (await answerPackageQuery(query(), hitsIn(hits), (ns) => {
        asked.push(ns);
        return Promise.resolve(true);
      })) as { pods: number };
      expect(all.pods).to.equal(3);
      expect(asked).to.deep.equal(['']);
      expect(componentsView(hits.slice(3))).to.deep.equal({ pods: 0, matches: [] });
    });

    it('answers for the namespaces asked when each is allowed, asking about those only, wherever the package runs', async () => {
      const asked: string[] = [];
      const some = (await answerPackageQuery(query(['b', 'z']), hitsIn(hits), (ns) => {
        asked.push(ns);
        return Promise.resolve(true);
      })) as { pods: number; matches: { namespace: string }[] };
      expect(some.matches.map((m) => m.namespace)).to.deep.equal(['b', 'b']);
      expect(asked).to.deep.equal(['b', 'z']);
      expect(searched.at(-1)).to.deep.equal(['b', 'z']);
    });

    it('refuses all namespaces without cluster-wide permission, and any namespace not allowed, the same however many match', async () => {
      const refusal = (q: PackageQuery, h: readonly ComponentHit[]): Promise<string> =>
        answerPackageQuery(q, hitsIn(h), (ns) => Promise.resolve(ns === 'a')).then(
          () => 'answered',
          (e: unknown) => (e instanceof PackageQueryForbidden ? e.message : String(e)),
        );
      expect(await refusal(query(), hits)).to.match(/all namespaces is not allowed/);
      expect(await refusal(query(), [])).to.equal(await refusal(query(), hits));
      expect(await refusal(query(['a', 'b']), hits)).to.match(/namespace "b" is not allowed/);
      expect(await refusal(query(['a', 'b']), [])).to.equal(await refusal(query(['a', 'b']), hits));
      searched.length = 0;
      const asked: string[] = [];
      await answerPackageQuery(query(['x', 'y', 'z']), hitsIn(hits), (ns) => {
        asked.push(ns);
        return Promise.resolve(ns !== 'y');
      }).catch(() => undefined);
      // One at a time, stopping at the first refusal; the pods are never searched for a refused query.
      expect(asked).to.deep.equal(['x', 'y']);
      expect(searched).to.deep.equal([]);
    });

    it('reads spec.namespaces: 1 to 50 distinct namespace names', () => {
      expect(
        readPackageQuery(body({ purl, namespaces: ['a', 'b'] }), parsePackageRule).spec.namespaces,
      ).to.deep.equal(['a', 'b']);
      for (const namespaces of [
        [],
        ['a', 'a'],
        ['Not_A_Name'],
        'a',
        Array.from({ length: 51 }, (_, i) => `n${String(i)}`),
      ])
        expect(() => readPackageQuery(body({ purl, namespaces }), parsePackageRule)).to.throw(
          /spec.namespaces/,
        );
    });
  });
});
