/**
 * The Sigstore trusted root a command judges with: `--trusted-root FILE`, or
 * the embedded public-good root. Apart from inputs.ts because it loads the
 * Sigstore libraries, which commands without keyless checks never need.
 */
import { publicGoodTrustedRoot } from '../verify/public-good.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../verify/trust.js';
import { loadInput, readInputText } from './inputs.js';

/** The trust root of `--trusted-root FILE`, or the embedded public-good one. */
export function trustedRootFrom(path: string | undefined): LoadedTrustRoot {
  if (path === undefined) return loadInput('embedded public-good trusted root', publicGoodTrustedRoot);
  const text = readInputText(path, 'trusted root');
  return loadInput('--trusted-root', () => loadTrustedRoot(JSON.parse(text)));
}
