/**
 * What a policy's authorities refer to outside the policy itself: the
 * public-good trusted root (and whether it is stale), admin trusted roots
 * (`trustedRootRef`) and public keys held in Secrets (`secretRef`). The
 * operator builds it from ConfigMaps, Secrets and the TUF refresher; the CLI
 * from files. Plain data, so the evaluator stays pure.
 */
import type { LoadedTrustRoot } from '../verify/trust.js';

export interface TrustMaterial {
  /**
   * Bumped whenever anything below changes; part of the evaluation cache key,
   * so a key rotation or a root refresh re-evaluates every digest at once.
   */
  readonly generation: number;
  readonly publicGood: {
    readonly root: LoadedTrustRoot;
    /**
     * Refreshing has failed for longer than allowed (design §3: 7 days). Chains
     * and logs missing from a stale root are then `TrustMaterialStale`
     * (Unknown), never a definite failure.
     */
    readonly stale: boolean;
  };
  /** Admin trusted roots by ConfigMap name (operator namespace), already validated. */
  readonly trustedRoots: ReadonlyMap<string, LoadedTrustRoot>;
  /** PEM public keys by `secretName/key` (operator namespace). */
  readonly secretKeys: ReadonlyMap<string, string>;
}

/** The lookup key of `secretRef: {name, key}` in `TrustMaterial.secretKeys`. */
export function secretKeyId(ref: { readonly name: string; readonly key: string }): string {
  return `${ref.name}/${ref.key}`;
}
