/**
 * Policies and trust material for evaluator tests: specs as an admin would
 * write them (validated and compiled by the real code), keyed to in-process
 * test keys.
 */
import { publicGoodTrustedRoot } from '../../../src/verify/public-good.js';
import { compilePolicy, type CompiledPolicy, type ReadyPolicy } from '../../../src/policy/compile.js';
import type { TrustMaterial } from '../../../src/policy/trust-material.js';
import type { TestKey } from '../../support/evidence-builder.js';

const publicGood = publicGoodTrustedRoot();

export function trustMaterial(overrides: Partial<TrustMaterial> = {}): TrustMaterial {
  return {
    generation: 1,
    publicGood: { root: publicGood, stale: false },
    trustedRoots: new Map(),
    secretKeys: new Map(),
    ...overrides,
  };
}

export const keyAuthority = (name: string, key: TestKey): object => ({
  name,
  key: { publicKey: key.publicKeyPem },
});

export function compile(
  spec: Record<string, unknown>,
  name = 'p',
  generation = 1,
  trust = trustMaterial(),
): CompiledPolicy {
  return compilePolicy({ name, generation, spec }, trust);
}

/** Compiles a spec that must be valid; fails the test with the problems otherwise. */
export function ready(
  spec: Record<string, unknown>,
  name = 'p',
  generation = 1,
  trust = trustMaterial(),
): ReadyPolicy {
  const compiled = compile(spec, name, generation, trust);
  if (!compiled.ready) throw new Error(`policy not ready: ${JSON.stringify(compiled.problems)}`);
  return compiled;
}
