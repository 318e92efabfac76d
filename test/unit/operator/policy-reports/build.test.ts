import { expect } from 'chai';
import { trimPod, type TrimmedPod } from '../../../../src/operator/pod.js';
import {
  buildPolicyReport,
  reportContent,
  resultId,
  timesFromReport,
  type PolicyReport,
  type ReportedPod,
  type ReportResult,
} from '../../../../src/operator/policy-reports/build.js';
import type { ContainerResult } from '../../../../src/operator/verdicts/policy-status.js';
import { containerResult } from '../../../support/container-results.js';
import { policyReportCrd } from '../../../support/policy-report-crd.js';

const t0 = new Date('2026-12-05T10:00:00.750Z');
const later = new Date('2026-12-05T10:05:00Z');

function pod(name: string, ns = 'shop'): TrimmedPod {
  const p = trimPod({
    metadata: { namespace: ns, name, uid: `uid-${name}` },
    spec: {
      containers: [{ name: 'app', image: 'reg.test/cart:1' }],
      initContainers: [
        { name: 'proxy', image: 'reg.test/proxy:1', restartPolicy: 'Always' },
        { name: 'setup', image: 'reg.test/setup:1' },
      ],
      ephemeralContainers: [{ name: 'debug', image: 'reg.test/debug:1' }],
    },
    status: { phase: 'Running' },
  });
  if (p === undefined) throw new Error('fixture');
  return p;
}

const result = containerResult;

const judged = (p: TrimmedPod, ...results: ContainerResult[]): ReportedPod => ({
  pod: p,
  results,
  complete: true,
});

function build(pods: ReportedPod[], now = t0, times = new Map<string, { signature: string; at: number }>()) {
  return buildPolicyReport('shop', pods, times, now);
}

function report(pods: ReportedPod[]): PolicyReport {
  const r = build(pods).report;
  if (r === undefined) throw new Error('no report');
  return r;
}

function only(r: PolicyReport): ReportResult {
  expect(r.results).to.have.length(1);
  const first = r.results[0];
  if (first === undefined) throw new Error('unreachable');
  return first;
}

/** The enum of a field of a result, from the vendored upstream CRD. */
function crdEnum(field: 'result' | 'severity'): string[] {
  const crd = policyReportCrd() as {
    spec: {
      versions: {
        schema: {
          openAPIV3Schema: {
            properties: { results: { items: { properties: Record<string, { enum?: string[] }> } } };
          };
        };
      }[];
    };
  };
  return crd.spec.versions[0]?.schema.openAPIV3Schema.properties.results.items.properties[field]?.enum ?? [];
}

describe('operator policy reports: verdicts as wgpolicyk8s.io/v1alpha2 PolicyReports', () => {
  describe('one result per container and policy', () => {
    const rows: [ContainerResult['verdict'], string, string | undefined][] = [
      ['Compliant', 'pass', undefined],
      ['NonCompliant', 'fail', 'high'],
      // "the policy could not be evaluated": an outage never reads as a violation (fail or warn).
      ['Unknown', 'error', undefined],
      // As Kyverno reports a policy exception.
      ['Exempt', 'skip', undefined],
    ];
    for (const [verdict, want, severity] of rows) {
      it(`${verdict} is ${want}${severity === undefined ? '' : `, severity ${severity}`}, values the upstream CRD allows`, () => {
        const r = only(report([judged(pod('cart-1'), result(verdict))]));
        expect(r.result).to.equal(want);
        expect(r.severity).to.equal(severity);
        expect(crdEnum('result')).to.include(r.result);
        if (r.severity !== undefined) expect(crdEnum('severity')).to.include(r.severity);
        expect(r.properties['verdict']).to.equal(verdict);
      });
    }

    it('names the policy, the rule, the source, the pod and its container', () => {
      const r = only(report([judged(pod('cart-1'), result('NonCompliant'))]));
      expect({ source: r.source, policy: r.policy, rule: r.rule, scored: r.scored }).to.deep.equal({
        source: 'sigwatch',
        policy: 'prod-images',
        rule: 'image-verdict',
        scored: true,
      });
      expect(r.resources).to.deep.equal([
        {
          apiVersion: 'v1',
          kind: 'Pod',
          namespace: 'shop',
          name: 'cart-1',
          uid: 'uid-cart-1',
          fieldPath: 'spec.containers{app}',
        },
      ]);
      expect(r.properties).to.deep.equal({
        container: 'app',
        image: 'reg.test/cart:1',
        digest: result('NonCompliant').digest,
        verdict: 'NonCompliant',
        reasons: 'SignatureMissing',
      });
      expect(r.message).to.equal(
        'NonCompliant (SignatureMissing): no signature by any authority of the policy',
      );
    });

    for (const [container, fieldPath] of [
      ['proxy', 'spec.initContainers{proxy}'],
      ['setup', 'spec.initContainers{setup}'],
      ['debug', 'spec.ephemeralContainers{debug}'],
    ] as const) {
      it(`points at ${fieldPath}`, () => {
        const r = only(report([judged(pod('cart-1'), result('Compliant', { container }))]));
        expect(r.resources[0]?.fieldPath).to.equal(fieldPath);
      });
    }

    it('keeps a stale verdict as it is, and says it is stale and why', () => {
      const stale = result('NonCompliant', {
        current: 'Unknown',
        stale: true,
        reasons: ['RegistryUnavailable'],
        message: 'registry down',
      });
      const r = only(report([judged(pod('cart-1'), stale)]));
      expect(r.result).to.equal('fail');
      expect(r.properties['stale']).to.equal('true');
      expect(r.message).to.equal(
        'NonCompliant, the last definite verdict, kept while the current one is Unknown (RegistryUnavailable): registry down',
      );
    });

    it('cuts a long message to 1,024 characters', () => {
      const r = only(report([judged(pod('cart-1'), result('NonCompliant', { message: 'x'.repeat(5000) }))]));
      expect(r.message).to.have.length(1024);
    });
  });

  describe('the report', () => {
    it('is named sigwatch in its namespace, labelled as managed by Sigwatch, sorted by pod, with a summary', () => {
      const r = report([
        judged(pod('b'), result('Compliant'), result('Unknown', { policy: 'other' })),
        judged(pod('a'), result('NonCompliant'), result('Exempt', { container: 'proxy' })),
      ]);
      expect(r.apiVersion).to.equal('wgpolicyk8s.io/v1alpha2');
      expect(r.kind).to.equal('PolicyReport');
      expect(r.metadata).to.deep.equal({
        name: 'sigwatch',
        namespace: 'shop',
        labels: { 'app.kubernetes.io/managed-by': 'sigwatch' },
      });
      expect(
        r.results.map((x) => `${x.resources[0]?.name ?? ''}/${x.properties['container'] ?? ''}/${x.policy}`),
      ).to.deep.equal(['a/app/prod-images', 'a/proxy/prod-images', 'b/app/other', 'b/app/prod-images']);
      expect(r.summary).to.deep.equal({ pass: 1, fail: 1, warn: 0, error: 1, skip: 1 });
    });

    it('is absent for a namespace without results (the writer deletes it)', () => {
      expect(build([]).report).to.equal(undefined);
      expect(build([{ pod: pod('a'), results: [], complete: false }]).report).to.equal(undefined);
    });

    it('keeps a result’s timestamp while its outcome holds, moves it when the outcome changes, forgets gone results', () => {
      const first = build([judged(pod('a'), result('Compliant')), judged(pod('b'), result('Compliant'))]);
      expect(first.report?.results[0]?.timestamp).to.deep.equal({
        seconds: Math.floor(t0.getTime() / 1000),
        nanos: 0,
      });
      const second = build(
        [judged(pod('a'), result('Compliant')), judged(pod('c'), result('NonCompliant'))],
        later,
        first.times,
      );
      const stamps = Object.fromEntries(
        (second.report?.results ?? []).map((r): [string, number] => [
          r.resources[0]?.name ?? '',
          r.timestamp.seconds,
        ]),
      );
      expect(stamps).to.deep.equal({ a: Math.floor(t0.getTime() / 1000), c: later.getTime() / 1000 });
      expect([...second.times.keys()]).to.deep.equal([
        resultId('a', 'app', 'prod-images'),
        resultId('c', 'app', 'prod-images'),
      ]);
      const flipped = build([judged(pod('a'), result('NonCompliant'))], later, first.times);
      expect(flipped.report?.results[0]?.timestamp.seconds).to.equal(later.getTime() / 1000);
    });
  });

  describe('size limits', () => {
    const many = (n: number, verdict: ContainerResult['verdict']): ReportedPod[] =>
      Array.from({ length: n }, (_, i) =>
        judged(pod(`${verdict.toLowerCase()}-${String(i).padStart(4, '0')}`), result(verdict)),
      );

    it('leaves out passes before failures beyond maxResults, counts them all in the summary and says how many', () => {
      const pods = [...many(8, 'Compliant'), ...many(3, 'NonCompliant'), ...many(2, 'Unknown')];
      const r = buildPolicyReport('shop', pods, new Map(), t0, { maxResults: 6, maxBytes: 1 << 20 }).report;
      expect(r?.results.map((x) => x.result).sort()).to.deep.equal([
        'error',
        'error',
        'fail',
        'fail',
        'fail',
        'pass',
      ]);
      expect(r?.summary).to.deep.equal({ pass: 8, fail: 3, warn: 0, error: 2, skip: 0 });
      expect(r?.metadata.annotations).to.deep.equal({ 'sigwatch.dev/results-omitted': '7' });
    });

    it('keeps the serialized results within maxBytes', () => {
      const pods = many(200, 'NonCompliant');
      const maxBytes = 20_000;
      const r = buildPolicyReport('shop', pods, new Map(), t0, { maxResults: 10_000, maxBytes }).report;
      const bytes = Buffer.byteLength(JSON.stringify(r?.results));
      expect(bytes).to.be.at.most(maxBytes);
      expect(r?.results.length).to.be.greaterThan(10);
      expect(Number(r?.metadata.annotations?.['sigwatch.dev/results-omitted'])).to.equal(
        200 - (r?.results.length ?? 0),
      );
    });
  });

  describe('reading back what the API server stores', () => {
    /** The API server returns keys sorted (Go's map encoding) and may add annotations of its own tools. */
    function asStored(r: PolicyReport): unknown {
      const sortKeys = (v: unknown): unknown =>
        Array.isArray(v)
          ? v.map(sortKeys)
          : typeof v === 'object' && v !== null
            ? Object.fromEntries(
                Object.entries(v)
                  .sort(([a], [b]) => (a < b ? -1 : 1))
                  .map(([k, x]) => [k, sortKeys(x)]),
              )
            : v;
      const stored = sortKeys(r) as PolicyReport;
      return {
        ...stored,
        metadata: {
          ...stored.metadata,
          uid: 'u1',
          resourceVersion: '42',
          annotations: {
            ...stored.metadata.annotations,
            'kubectl.kubernetes.io/last-applied-configuration': '{}',
          },
        },
      };
    }

    it('compares equal to the report it was written from, and unequal when a result changes', () => {
      const pods = [judged(pod('a'), result('Compliant')), judged(pod('b'), result('NonCompliant'))];
      const r = report(pods);
      expect(reportContent(asStored(r))).to.equal(reportContent(r));
      const changed = report([judged(pod('a'), result('Compliant')), judged(pod('b'), result('Unknown'))]);
      expect(reportContent(changed)).to.not.equal(reportContent(r));
    });

    it('recovers the first-seen times, so a new leader rebuilds the same content', () => {
      const pods = [
        judged(pod('a'), result('Compliant')),
        judged(pod('b'), result('NonCompliant', { stale: true })),
      ];
      const r = report(pods);
      const again = build(pods, later, timesFromReport(asStored(r))).report;
      expect(again).to.not.equal(undefined);
      expect(reportContent(again)).to.equal(reportContent(r));
    });

    it('skips malformed results instead of failing', () => {
      const hostile = {
        results: [
          null,
          { policy: 1 },
          {
            policy: 'p',
            result: 'pass',
            properties: { container: 'c' },
            resources: [{ name: 'x' }],
            timestamp: { seconds: 'soon' },
          },
          {
            policy: 'p',
            result: 'pass',
            properties: { container: 'c' },
            resources: 'x',
            timestamp: { seconds: 1 },
          },
          {
            policy: 'p',
            result: 'pass',
            properties: { container: 'c' },
            resources: [{ name: 'x' }],
            timestamp: { seconds: 7 },
          },
        ],
      };
      expect([...timesFromReport(hostile).entries()]).to.deep.equal([
        [resultId('x', 'c', 'p'), { signature: 'pass\u0000\u0000\u0000\u0000', at: 7000 }],
      ]);
      expect(timesFromReport({ results: 'none' }).size).to.equal(0);
      expect(timesFromReport(undefined).size).to.equal(0);
    });
  });
});
