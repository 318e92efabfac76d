import { expect } from 'chai';
import fc from 'fast-check';
import { buildReport, type AuditReport } from '../../../../src/audit/report.js';
import { joinReport } from '../../../../src/operator/audits/report-join.js';
import {
  auditLimits,
  AuditReportError,
  boundReport,
  cut,
  reportParts,
  reportResult,
  type AuditLimits,
  type ImageAuditReportObject,
} from '../../../../src/operator/audits/report-parts.js';
import { image, syntheticReport, viaJson } from '../../../support/reports.js';

const owner = { namespace: 'team-a', name: 'monthly', uid: '0b1c2d3e-0000-4000-8000-000000000001' };
const sizeOf = (o: object): number => Buffer.byteLength(JSON.stringify(o));
const small = (o: Partial<AuditLimits>): AuditLimits => ({ ...auditLimits, ...o });

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error: unknown) {
    if (error instanceof AuditReportError) return error.code;
    throw error;
  }
  return undefined;
}

describe('audit report parts', () => {
  it('stores a small report as one part 0 with the summary and reads it back equal', () => {
    const report = syntheticReport({ namespace: 'team-a', name: 'monthly', images: 30, podsPerImage: 3 });
    const parts = reportParts(owner, 'monthly-20261205-060000', report);
    expect(parts).to.have.length(1);
    expect(parts[0]?.metadata.name).to.equal('monthly-20261205-060000');
    expect(parts[0]?.metadata.labels).to.deep.include({
      'sigwatch.dev/audit': 'monthly',
      'sigwatch.dev/report': 'monthly-20261205-060000',
      'sigwatch.dev/part': '0',
    });
    expect(parts[0]?.metadata.ownerReferences).to.deep.equal([
      {
        apiVersion: 'sigwatch.dev/v1alpha1',
        kind: 'ImageAudit',
        name: 'monthly',
        uid: owner.uid,
        controller: true,
      },
    ]);
    expect(parts[0]?.parts).to.equal(1);
    expect(parts[0]?.summary).to.deep.include({
      images: 30,
      signed: 10,
      compliant: 10,
      result: 'NonCompliant',
    });
    expect(joinReport('team-a', viaJson(parts))).to.deep.equal(viaJson(report));
  });

  it('cuts a large report into parts within partBytes, splitting no entry that fits in one', () => {
    const report = syntheticReport({
      namespace: 'team-a',
      name: 'monthly',
      images: 40,
      podsPerImage: 80, // about 4.5 KB an entry: three fit in a part, the fourth would straddle
      unmatched: 50,
    });
    const limits = small({ partBytes: 16 * 1024 });
    const parts = reportParts(owner, 'r', report, limits);
    expect(parts.length).to.be.greaterThan(2);
    for (const p of parts) expect(sizeOf(p)).to.be.at.most(limits.partBytes);
    expect(parts.map((p) => p.metadata.name)).to.deep.equal(
      parts.map((_, i) => (i === 0 ? 'r' : `r-${String(i)}`)),
    );
    expect(parts.map((p) => p.metadata.labels['sigwatch.dev/part'])).to.deep.equal(
      parts.map((_, i) => String(i)),
    );
    expect(parts.slice(1).every((p) => p.summary === undefined && p.parts === undefined)).to.equal(true);
    expect(parts.flatMap((p) => p.entries ?? []).filter((e) => e.continued)).to.deep.equal([]);
    const back = joinReport('team-a', viaJson(parts));
    expect(back).to.deep.equal(viaJson(report));
    expect(back.entries.reduce((n, e) => n + e.pods.length, 0)).to.equal(3_200);
  });

  it('splits an entry larger than a part into continued pieces of the same image', () => {
    const big = image(7, 400);
    const report = syntheticReport({
      namespace: 'team-a',
      name: 'a',
      images: 3,
      podsPerImage: 2,
      extra: [big],
    });
    const limits = small({ partBytes: 8 * 1024, itemsPerEntry: 150 });
    const parts = reportParts(owner, 'r', report, limits);
    const pieces = parts.flatMap((p) => p.entries ?? []).filter((e) => e.image === big.image);
    expect(pieces.length).to.be.greaterThan(2);
    expect(pieces.slice(1).every((e) => e.continued === true)).to.equal(true);
    expect(pieces.every((e) => (e.pods?.length ?? 0) <= 150)).to.equal(true);
    for (const p of parts) expect(sizeOf(p)).to.be.at.most(limits.partBytes);
    expect(joinReport('team-a', viaJson(parts))).to.deep.equal(viaJson(report));
  });

  it('keeps every part within its byte and count limits and reads back equal, for any report', () => {
    const text = (max: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength: max });
    const entry = fc.record({
      image: text(80),
      references: fc.array(text(80), { maxLength: 30 }),
      pods: fc.array(text(40), { maxLength: 300 }),
      policies: fc.array(text(30), { maxLength: 5 }),
      compliant: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 40 }),
        fc.array(text(40), { maxLength: 200 }),
        fc.integer({ min: 3_000, max: 40_000 }),
        fc.integer({ min: 1, max: 50 }),
        (entries, unmatched, partBytes, perList) => {
          const limits = small({
            partBytes,
            maxParts: 100_000,
            itemsPerEntry: perList,
            entriesPerPart: perList,
            unmatchedPodsPerPart: perList,
            imageLength: 40,
            podLength: 20,
            nameLength: 16,
          });
          const report = buildReport({
            audit: { namespace: 'team-a', name: 'a' },
            time: new Date(0),
            images: entries.map((e) => ({
              image: e.image,
              references: e.references,
              pods: e.pods,
              verdicts: [
                {
                  policy: e.policies[0] ?? 'p',
                  verdict: e.compliant ? 'Compliant' : 'NonCompliant',
                  reasons: e.compliant ? [] : ['SignatureMissing'],
                  findings: [],
                  signers: [],
                },
              ],
              signedSbom: false,
            })),
            unmatchedPods: unmatched,
          });
          const parts = reportParts(owner, 'r', report, limits);
          for (const p of parts) {
            expect(sizeOf(p)).to.be.at.most(partBytes);
            expect(p.entries?.length ?? 0).to.be.at.most(perList);
            expect(p.unmatchedPods?.length ?? 0).to.be.at.most(perList);
            for (const e of p.entries ?? [])
              for (const l of [e.pods, e.references, e.policies])
                expect(l?.length ?? 0).to.be.at.most(perList);
          }
          expect(joinReport('team-a', viaJson(parts))).to.deep.equal(viaJson(boundReport(report, limits)));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a report that needs more than maxParts parts (ReportTooLarge)', () => {
    const report = syntheticReport({ namespace: 'team-a', name: 'a', images: 200, podsPerImage: 5 });
    expect(
      codeOf(() => reportParts(owner, 'r', report, small({ partBytes: 8 * 1024, maxParts: 3 }))),
    ).to.equal('ReportTooLarge');
    expect(codeOf(() => reportParts(owner, 'r', report, small({ partBytes: 8 * 1024 })))).to.equal(undefined);
  });

  describe('bounds hostile values', () => {
    const hostile = (img: string, ref: string, pod: string): AuditReport =>
      buildReport({
        audit: { namespace: 'team-a', name: 'a' },
        time: new Date(0),
        images: [
          {
            image: img,
            references: [ref],
            pods: [pod],
            verdicts: [{ policy: 'p', verdict: 'Compliant', reasons: [], findings: [], signers: [] }],
            signedSbom: false,
          },
        ],
        unmatchedPods: [pod],
      });
    const rows: [string, string, number][] = [
      ['a 5,000-character image', `r.example/${'a'.repeat(5_000)}@sha256:00`, auditLimits.imageLength],
      ['4-byte characters', '😀'.repeat(2_000), auditLimits.imageLength],
      ['control characters', '\u0000\u001b[2J'.repeat(1_000), auditLimits.imageLength],
    ];
    for (const [name, value, max] of rows) {
      it(`cuts ${name} to ${String(max)} code points, ending in …`, () => {
        const b = boundReport(hostile(value, value, value));
        for (const s of [b.entries[0]?.image, b.entries[0]?.references[0]]) {
          expect(Array.from(s ?? '')).to.have.length(max);
          expect(s?.endsWith('…')).to.equal(true);
        }
        expect(Array.from(b.entries[0]?.pods[0] ?? '')).to.have.length(auditLimits.podLength);
        expect(Array.from(b.unmatchedPods[0] ?? '')).to.have.length(auditLimits.podLength);
        expect(boundReport(b), 'idempotent').to.deep.equal(b);
      });
    }

    it('replaces lone surrogates (the API server would), and leaves values within bounds alone', () => {
      expect(cut('a\ud800b', 10)).to.equal('a\ufffdb');
      expect(cut('registry.example/app@sha256:00', 1024)).to.equal('registry.example/app@sha256:00');
      expect(cut('abcdef', 4)).to.equal('abc…');
    });
  });

  it('names the worst result', () => {
    expect(reportResult({ nonCompliant: 1, unknown: 1 })).to.equal('NonCompliant');
    expect(reportResult({ nonCompliant: 0, unknown: 2 })).to.equal('Unknown');
    expect(reportResult({ nonCompliant: 0, unknown: 0 })).to.equal('Compliant');
  });
});

describe('joinReport', () => {
  const report = syntheticReport({
    namespace: 'team-a',
    name: 'a',
    images: 60,
    podsPerImage: 4,
    unmatched: 10,
  });
  const parts = (): ImageAuditReportObject[] =>
    viaJson(reportParts(owner, 'r', report, small({ partBytes: 6 * 1024 })));
  const broken: [string, (p: ImageAuditReportObject[]) => unknown[], string][] = [
    ['a part missing', (p) => p.slice(0, -1), 'ReportPartMissing'],
    ['a part more than part 0 names', (p) => [...p, p[1]], 'ReportMalformed'],
    ['parts out of order', (p) => [p[0], p[2], p[1], ...p.slice(3)], 'ReportMalformed'],
    ['no summary', (p) => [{ ...p[0], summary: undefined }, ...p.slice(1)], 'ReportMalformed'],
    [
      'a negative count',
      (p) => [{ ...p[0], summary: { ...p[0]?.summary, images: -1 } }, ...p.slice(1)],
      'ReportMalformed',
    ],
    [
      'a verdict not in the API',
      (p) => [{ ...p[0], entries: [{ ...p[0]?.entries?.[0], verdict: 'Fine' }] }, ...p.slice(1)],
      'ReportMalformed',
    ],
    [
      'a reason not in the API',
      (p) => [{ ...p[0], entries: [{ ...p[0]?.entries?.[0], reasons: ['Whatever'] }] }, ...p.slice(1)],
      'ReportMalformed',
    ],
    [
      'a continued piece first',
      (p) => [{ ...p[0], entries: [{ ...p[0]?.entries?.[0], continued: true }] }, ...p.slice(1)],
      'ReportMalformed',
    ],
    [
      'a continued piece of another image',
      (p) => [
        { ...p[0], entries: [p[0]?.entries?.[0], { ...p[0]?.entries?.[1], continued: true }] },
        ...p.slice(1),
      ],
      'ReportMalformed',
    ],
    ['pods that are not strings', (p) => [{ ...p[0], unmatchedPods: [1] }, ...p.slice(1)], 'ReportMalformed'],
  ];
  it('has test parts of more than two parts', () => {
    expect(parts().length).to.be.greaterThan(2);
    expect(joinReport('team-a', parts())).to.deep.equal(viaJson(report));
  });
  for (const [name, damage, code] of broken)
    it(`refuses ${name} (${code})`, () => {
      expect(codeOf(() => joinReport('team-a', damage(parts())))).to.equal(code);
    });
});
