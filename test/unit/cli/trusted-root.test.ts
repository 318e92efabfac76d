import { expect } from 'chai';
import { trustedRootFrom } from '../../../src/cli/trusted-root.js';

describe('cli/trusted-root', () => {
  it('loads the embedded public-good root when no file is given', () => {
    expect(trustedRootFrom(undefined).root.tlogs.length).to.be.above(0);
  });
});
