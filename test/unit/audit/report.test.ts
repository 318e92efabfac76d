import { expect } from 'chai';
import {
  auditExitCode,
  buildReport,
  renderTable,
  signatureStanding,
  type JudgedImage,
} from '../../../src/audit/report.js';
import type { PolicyVerdict } from '../../../src/policy/verdict.js';

const verdict = (o: Partial<PolicyVerdict> & Pick<PolicyVerdict, 'verdict'>): PolicyVerdict => ({
  policy: 'p',
  reasons: [],
  findings: [],
  signers: [],
  ...o,
});
const signed = verdict({ verdict: 'Compliant', signers: [{ authority: 'k', format: 'bundle' }] });
const untrusted = verdict({
  verdict: 'NonCompliant',
  reasons: ['KeyMismatch'],
  findings: [{ check: 'signature', reason: 'KeyMismatch', message: 'no signature by the key' }],
});
const missing = verdict({
  verdict: 'NonCompliant',
  reasons: ['SignatureMissing'],
  findings: [{ check: 'signature', reason: 'SignatureMissing', message: 'none' }],
});
const down = verdict({
  verdict: 'Unknown',
  reasons: ['RegistryUnavailable'],
  findings: [{ check: 'signature', reason: 'RegistryUnavailable', message: 'down' }],
});
const sbomDenied = verdict({
  verdict: 'NonCompliant',
  reasons: ['SbomDeniedPackage'],
  signers: [{ authority: 'k', format: 'bundle' }],
});

const image = (
  name: string,
  verdicts: PolicyVerdict[],
  signedSbom = false,
  pods = [`ns/${name}`],
): JudgedImage => ({
  image: `reg.test/${name}@sha256:${'a'.repeat(64)}`,
  references: [`reg.test/${name}:1`],
  pods,
  verdicts,
  signedSbom,
});

describe('audit report', () => {
  it('tells trusted, untrusted, missing and undecided signatures apart', () => {
    expect(signatureStanding([signed])).to.equal('trusted');
    expect(signatureStanding([untrusted])).to.equal('untrusted');
    expect(signatureStanding([missing])).to.equal('unsigned');
    expect(signatureStanding([down])).to.equal('unknown');
    // Signed by a matching policy's authority, failing for another reason: still signed.
    expect(signatureStanding([sbomDenied])).to.equal('trusted');
    expect(signatureStanding([untrusted, signed]), 'one matching policy trusts it').to.equal('trusted');
  });

  it('counts images, orders the worst first and computes the compliance percentage', () => {
    const r = buildReport({
      audit: { namespace: 'ops', name: 'monthly' },
      time: new Date('2026-12-01T05:00:00Z'),
      images: [
        image('good', [signed], true, ['a/1', 'b/2']),
        image('log4shell', [sbomDenied], true),
        image('unsigned', [missing]),
        image('imposter', [untrusted]),
        image('flaky', [down]),
        image('exempt', [verdict({ verdict: 'Exempt' })]),
      ],
      unmatchedPods: ['z/x', 'a/y'],
    });
    expect(r).to.deep.include({
      images: 6,
      signed: 2,
      signedUntrusted: 1,
      withSbom: 2,
      compliant: 1,
      exempt: 1,
      nonCompliant: 3,
      unknown: 1,
      compliancePercent: 33.3,
      unmatchedPods: ['a/y', 'z/x'],
    });
    expect(r.entries.map((e) => e.verdict)).to.deep.equal([
      'NonCompliant',
      'NonCompliant',
      'NonCompliant',
      'Unknown',
      'Exempt',
      'Compliant',
    ]);
    expect(auditExitCode(r)).to.equal(1);
    const table = renderTable(r);
    expect(table).to.match(/^=== SUPPLY-CHAIN AUDIT monthly 2026-12-01T05:00:00.000Z ===\n/);
    expect(table).to.contain('Images: 6   Signed: 2 (33%)');
    expect(table).to.contain(
      'NON-COMPLIANT\n  reg.test/imposter  sha256:aaaaaaaaaaaa…  KeyMismatch  ns/imposter',
    );
    expect(table).to.contain('UNMATCHED PODS (no policy selects them): 2');
  });

  it('exits 2 when only Unknown remains, 0 when everything complies, and calls an empty cluster compliant', () => {
    const at = { audit: { namespace: '', name: 'a' }, time: new Date(0), unmatchedPods: [] };
    expect(
      auditExitCode(buildReport({ ...at, images: [image('flaky', [down]), image('good', [signed])] })),
    ).to.equal(2);
    expect(auditExitCode(buildReport({ ...at, images: [image('good', [signed])] }))).to.equal(0);
    expect(buildReport({ ...at, images: [] }).compliancePercent).to.equal(100);
  });
});
