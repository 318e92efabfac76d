/**
 * A controller result (one container under one policy) as the PolicyReport
 * tests need it: the reasons each verdict usually carries, and `over` for
 * the field a test is about.
 */
import type { ContainerResult } from '../../src/operator/verdicts/policy-status.js';

export function containerResult(
  verdict: ContainerResult['verdict'],
  over: Partial<ContainerResult> = {},
): ContainerResult {
  const digest = `sha256:${'a'.repeat(64)}`;
  return {
    policy: 'prod-images',
    container: 'app',
    image: 'reg.test/cart:1',
    digest,
    digestKey: `reg.test/cart@${digest}`,
    verdict,
    current: verdict,
    stale: false,
    reasons:
      verdict === 'NonCompliant'
        ? ['SignatureMissing']
        : verdict === 'Unknown'
          ? ['RegistryUnavailable']
          : [],
    message: verdict === 'NonCompliant' ? 'no signature by any authority of the policy' : '',
    actionable: true,
    evidenceAt: 0,
    ...over,
  };
}
