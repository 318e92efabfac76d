import { expect } from 'chai';
import { imagePolicySpecSchema } from '../../../src/policy/schema.js';
import { applyDefaults } from '../../../src/policy/schema-defaults.js';

describe('ImagePolicy schema defaults', () => {
  it('puts each default on its field and {} on the optional objects above it, never on a required one', () => {
    const schema = imagePolicySpecSchema();
    const p = schema.properties ?? {};
    expect(p['mode']?.default).to.equal('Audit');
    expect(p['match']?.default, 'match is required').to.equal(undefined);
    expect(p['match']?.properties?.['signatureOn']?.default).to.equal('either');
    expect(p['actions']?.default).to.deep.equal({});
    expect(p['actions']?.properties?.['evict']?.default).to.deep.equal({});
    expect(p['actions']?.properties?.['evict']?.properties?.['noncompliantFor']?.default).to.equal('10m');
    expect(
      p['authorities']?.items?.properties?.['requireTransparencyLog']?.default,
      'per authority kind',
    ).to.equal(undefined);
  });

  it('refuses a default for a field the schema does not have', () => {
    expect(() => applyDefaults({ properties: { a: {} } }, { b: 1 })).to.throw(/spec\.b/);
    expect(() => applyDefaults({ properties: { a: { properties: {} } } }, { a: { c: 1 } })).to.throw(
      /spec\.a\.c/,
    );
  });
});
