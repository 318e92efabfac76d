import { expect } from 'chai';
import type { Digest } from '../../../src/base/digest.js';
import type { Evidence, SourceStatus } from '../../../src/registry/evidence.js';
import { incompleteReasons } from '../../../src/verify/evidence-candidates.js';

const evidence = (sources: SourceStatus[], imageSeen = true): Evidence => ({
  repository: 'r.example/app',
  digest: `sha256:${'a'.repeat(64)}` as Digest,
  fetchedAt: new Date(0),
  imageSeen,
  signatures: [],
  attestations: [],
  bundles: [],
  sboms: [],
  sources,
  complete: false,
  limitExceeded: false,
});

describe('verify/evidence-candidates', () => {
  it("gives the failing sources' own reasons, once each", () => {
    const ev = evidence([
      { repository: 'r', item: 'sig', outcome: 'error', reason: 'RateLimited' },
      { repository: 'r', item: 'referrers', outcome: 'error', reason: 'RateLimited' },
      { repository: 'r', item: 'att', outcome: 'error', reason: 'EvidenceIncomplete' },
    ]);
    expect(incompleteReasons(ev)).to.deep.equal(['RateLimited', 'EvidenceIncomplete']);
  });

  it('gives EvidenceIncomplete when nothing failed but something was not seen', () => {
    expect(
      incompleteReasons(evidence([{ repository: 'r', item: 'image', outcome: 'absent' }], false)),
    ).to.deep.equal(['EvidenceIncomplete']);
  });

  it('leaves out .sbom attachment failures: they never decide a verdict', () => {
    const ev = evidence([
      { repository: 'r', item: 'sbom', outcome: 'error', reason: 'RegistryUnauthorized' },
      { repository: 'r', item: 'sig', outcome: 'error', reason: 'RateLimited' },
    ]);
    expect(incompleteReasons(ev)).to.deep.equal(['RateLimited']);
  });
});
