import { expect } from 'chai';
import {
  keptAnnotationKeys,
  keptAnnotations,
  maxAnnotationChars,
} from '../../../src/registry/evidence-types.js';
import { cosignAnnotations } from '../../../src/verify/legacy-signature.js';
import { maxCertificatePemChars } from '../../../src/verify/fulcio.js';

describe('registry: annotations kept in evidence (review, finding 5)', () => {
  it('keeps every annotation the verifier reads, and the predicate type hints', () => {
    expect(keptAnnotationKeys).to.include.members([
      ...Object.values(cosignAnnotations),
      'dev.sigstore.bundle.predicateType',
      'predicateType',
    ]);
  });

  it('drops other keys and cuts values longer than the certificate reader accepts to one character over', () => {
    expect(maxAnnotationChars).to.equal(maxCertificatePemChars);
    const kept = keptAnnotations({
      [cosignAnnotations.signature]: 'MEUCIQ==',
      [cosignAnnotations.certificate]: 'A'.repeat(4 << 20),
      [cosignAnnotations.chain]: 'B'.repeat(maxAnnotationChars),
      'org.example/note': 'x',
    });
    expect(kept).to.deep.equal({
      [cosignAnnotations.signature]: 'MEUCIQ==',
      [cosignAnnotations.certificate]: 'A'.repeat(maxAnnotationChars + 1),
      [cosignAnnotations.chain]: 'B'.repeat(maxAnnotationChars),
    });
    expect(keptAnnotations(undefined)).to.deep.equal({});
  });

  it('review 2 (finding 5): keeps a long Rekor bundle or timestamp annotation whole (a cut would turn valid JSON invalid)', () => {
    const bundle = JSON.stringify({ Payload: { body: 'C'.repeat(100 << 10) } });
    const kept = keptAnnotations({
      [cosignAnnotations.bundle]: bundle,
      [cosignAnnotations.timestamp]: bundle,
    });
    expect(kept[cosignAnnotations.bundle]).to.equal(bundle);
    expect(kept[cosignAnnotations.timestamp]).to.equal(bundle);
  });
});
