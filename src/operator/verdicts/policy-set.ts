/**
 * The ImagePolicies as watched, compiled against the current trust material
 * (design §3). Recompiling is what makes a policy edit, a key rotation or a
 * new trusted root take effect; it happens only when a spec or the trust
 * material changed, never for a status write.
 */
import {
  compilePolicy,
  type CompiledPolicy,
  type PolicySource,
  type ReadyPolicy,
} from '../../policy/compile.js';
import type { TrustMaterial } from '../../policy/trust-material.js';

type Labels = Readonly<Record<string, string>>;

export class PolicySet {
  private readonly sources = new Map<string, PolicySource>();
  /** Policies' labels, for ImageAudits' policySelector. */
  private readonly labels = new Map<string, Labels>();
  private trust: TrustMaterial | undefined;
  private compiled: readonly CompiledPolicy[] = [];

  /** Records a watched policy; true when its spec changed (a status write or an annotation changes neither). */
  upsert(source: PolicySource, labels: Labels): boolean {
    this.labels.set(source.name, labels);
    const before = this.sources.get(source.name);
    this.sources.set(source.name, source);
    return !(
      before?.generation === source.generation && JSON.stringify(before.spec) === JSON.stringify(source.spec)
    );
  }

  delete(name: string): void {
    this.labels.delete(name);
    this.sources.delete(name);
  }

  setTrust(trust: TrustMaterial): void {
    this.trust = trust;
  }

  /** Compiles every policy; false (nothing changes) until the trust material is known. */
  recompile(): boolean {
    const trust = this.trust;
    if (trust === undefined) return false;
    this.compiled = [...this.sources.values()].map((s) => compilePolicy(s, trust));
    return true;
  }

  get all(): readonly CompiledPolicy[] {
    return this.compiled;
  }

  ready(): ReadyPolicy[] {
    return this.compiled.filter((p): p is ReadyPolicy => p.ready);
  }

  labelsOf(name: string): Labels {
    return this.labels.get(name) ?? {};
  }
}
