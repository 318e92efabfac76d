import { expect } from 'chai';
import {
  combineBySignatureOn,
  needsRelated,
  type Related,
  type ReportedKind,
} from '../../../src/policy/signature-on.js';
import type { SignatureOn } from '../../../src/policy/spec.js';
import type { PolicyVerdict, Verdict } from '../../../src/policy/verdict.js';

const verdict = (v: Verdict, tag: string): PolicyVerdict => ({
  policy: 'p',
  verdict: v,
  reasons: v === 'NonCompliant' ? ['SignatureMissing'] : v === 'Unknown' ? ['RegistryUnavailable'] : [],
  findings: [{ check: 'signature', reason: 'SignatureMissing', message: tag }],
  signers: [],
});
const ok = (tag: string): PolicyVerdict => verdict('Compliant', tag);
const bad = (tag: string): PolicyVerdict => verdict('NonCompliant', tag);
const unknown = (tag: string): PolicyVerdict => verdict('Unknown', tag);

/** The message of the verdict that decided, or its reason when synthesised. */
function decided(on: SignatureOn, kind: ReportedKind, reported: PolicyVerdict, related: Related): string {
  const v = combineBySignatureOn(on, kind, reported, related);
  if (v === undefined) return 'wait';
  for (const reason of ['IndexUnresolved', 'RegistryUnavailable'] as const) {
    if (v.reasons.includes(reason) && v.findings[0]?.reason === reason) return `Unknown ${reason}`;
  }
  return `${v.verdict}:${v.findings[0]?.message ?? ''}`;
}

describe('policy/signature-on', () => {
  const rows: readonly [SignatureOn, ReportedKind, PolicyVerdict, Related, string][] = [
    // The reported digest is what the policy asks for: related digests are never needed.
    ['index', 'index', bad('D'), 'pending', 'NonCompliant:D'],
    ['platform', 'platform', ok('D'), 'unresolved', 'Compliant:D'],
    // index wanted, platform reported: the index decides; not found is Unknown, never definite.
    ['index', 'platform', bad('D'), [ok('I')], 'Compliant:I'],
    ['index', 'platform', ok('D'), [bad('I')], 'NonCompliant:I'],
    ['index', 'platform', bad('D'), 'unresolved', 'Unknown IndexUnresolved'],
    ['index', 'platform', bad('D'), 'pending', 'wait'],
    // platform wanted, index reported: every platform manifest must pass.
    ['platform', 'index', bad('D'), [ok('P1'), ok('P2')], 'Compliant:P1'],
    ['platform', 'index', ok('D'), [ok('P1'), bad('P2')], 'NonCompliant:P2'],
    ['platform', 'index', ok('D'), [unknown('P1'), bad('P2')], 'NonCompliant:P2'],
    ['platform', 'index', ok('D'), [ok('P1'), unknown('P2')], 'Unknown:P2'],
    ['platform', 'index', ok('D'), [], 'Unknown IndexUnresolved'],
    // either: the reported digest passing is enough; else the related ones may pass instead.
    ['either', 'index', ok('D'), 'pending', 'Compliant:D'],
    ['either', 'platform', bad('D'), [ok('I')], 'Compliant:I'],
    ['either', 'index', bad('D'), [ok('P1'), ok('P2')], 'Compliant:P1'],
    ['either', 'index', bad('D'), [ok('P1'), bad('P2')], 'NonCompliant:D'],
    ['either', 'platform', bad('D'), 'pending', 'wait'],
    // Provably nothing related (single-platform image, image named by digest): the reported verdict is final.
    ['either', 'platform', bad('D'), 'none', 'NonCompliant:D'],
    ['index', 'platform', bad('D'), 'none', 'Unknown IndexUnresolved'],
    // The pod's tag named the platform manifest itself: no index exists; the manifest is the top-level artifact.
    ['index', 'platform', bad('D'), 'standalone', 'NonCompliant:D'],
    ['index', 'platform', ok('D'), 'standalone', 'Compliant:D'],
    ['either', 'platform', bad('D'), 'standalone', 'NonCompliant:D'],
    // Something related should exist but cannot be found (the tag moved): never definite.
    ['either', 'platform', bad('D'), 'unresolved', 'Unknown IndexUnresolved'],
    // The registry could not be asked: Unknown in every mode that needs the answer.
    ['either', 'index', bad('D'), 'failed', 'Unknown RegistryUnavailable'],
    ['either', 'platform', bad('D'), 'failed', 'Unknown RegistryUnavailable'],
    ['index', 'platform', ok('D'), 'failed', 'Unknown RegistryUnavailable'],
    ['platform', 'index', ok('D'), 'failed', 'Unknown RegistryUnavailable'],
    ['either', 'index', ok('D'), 'failed', 'Compliant:D'],
    // Neither passes: definite only when both are definite.
    ['either', 'platform', bad('D'), [unknown('I')], 'Unknown:I'],
    ['either', 'platform', unknown('D'), [bad('I')], 'Unknown:D'],
  ];
  for (const [on, kind, reported, related, want] of rows) {
    const relatedText =
      typeof related === 'string' ? related : related.map((r) => r.findings[0]?.message).join('+');
    it(`${on}, reported ${kind} ${reported.verdict}, related ${relatedText || 'none'} → ${want}`, () => {
      expect(decided(on, kind, reported, related)).to.equal(want);
    });
  }

  it('asks for related digests only when the answer may depend on them', () => {
    expect(needsRelated('either', 'index', ok('D'))).to.equal(false);
    expect(needsRelated('either', 'index', unknown('D'))).to.equal(true);
    expect(needsRelated('index', 'index', bad('D'))).to.equal(false);
    expect(needsRelated('index', 'platform', ok('D'))).to.equal(true);
  });
});
