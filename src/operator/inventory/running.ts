/**
 * The inventory over what runs now (design §4.4): the containers of the
 * pods the controller holds, with the signed SBOMs their digests' policies
 * verified and, when asked for, unsigned `.sbom` attachments, handed to the
 * package search (packages.ts).
 */
import type { SignedSbom } from '../../policy/verification-cache.js';
import type { Evidence, AttachedSbom } from '../../registry/evidence-types.js';
import type { NormalisedSbom } from '../../sbom/model.js';
import { parseSbomText } from '../../sbom/parse.js';
import type { PackageRule } from '../../sbom/query.js';
import type { TrimmedPod } from '../pod.js';
import type { ContainerResult } from '../verdicts/policy-status.js';
import { containersWithPackage, type ComponentHit, type RunningContainer } from './packages.js';

export interface RunningSources {
  readonly pods: ReadonlyMap<string, TrimmedPod>;
  /** Each pod's latest results, by pod key. */
  readonly results: ReadonlyMap<string, readonly ContainerResult[]>;
  readonly evidence: (digestKey: string) => Evidence | undefined;
  /** The SBOMs the policies matching this evidence's repository verified (deduplicated). */
  readonly signedSboms: (evidence: Evidence) => readonly SignedSbom[];
}

export class RunningPackages {
  /** Held weakly: an attachment's parse lives as long as the evidence that holds it. */
  private readonly parsedAttachments = new WeakMap<AttachedSbom, NormalisedSbom | null>();

  constructor(private readonly sources: RunningSources) {}

  /** Running containers whose digests' SBOMs list the rule's package, in the given namespaces (all when omitted). */
  find(rule: PackageRule, namespaces?: ReadonlySet<string>): ComponentHit[] {
    const running: RunningContainer[] = [];
    for (const [key, results] of this.sources.results) {
      const pod = this.sources.pods.get(key);
      if (pod === undefined || (namespaces !== undefined && !namespaces.has(pod.namespace))) continue;
      const seen = new Set<string>();
      for (const r of results) {
        const id = `${r.container}\u0000${r.digestKey}`;
        if (seen.has(id)) continue;
        seen.add(id);
        running.push({
          namespace: pod.namespace,
          pod: pod.name,
          container: r.container,
          image: r.image,
          digestKey: r.digestKey,
        });
      }
    }
    return containersWithPackage(
      rule,
      running,
      (digestKey) => {
        const evidence = this.sources.evidence(digestKey);
        return evidence === undefined ? [] : this.sources.signedSboms(evidence);
      },
      (digestKey) => (this.sources.evidence(digestKey)?.sboms ?? []).flatMap((a) => this.unsignedSbom(a)),
    );
  }

  /** An attachment's SBOM, parsed once per fetched attachment; one that does not parse adds nothing. */
  private unsignedSbom(attached: AttachedSbom): NormalisedSbom[] {
    let parsed = this.parsedAttachments.get(attached);
    if (parsed === undefined) {
      try {
        parsed = parseSbomText(new TextDecoder().decode(attached.body));
      } catch {
        parsed = null;
      }
      this.parsedAttachments.set(attached, parsed);
    }
    return parsed === null ? [] : [parsed];
  }
}
