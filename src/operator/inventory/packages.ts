/**
 * "Which running pods contain package X (in range R)?" (design §5), answered
 * from what the operator already holds: the pods it judges, the digest each
 * container runs, and the SBOMs those digests' signed attestations carry.
 * Nothing is fetched or verified to answer; a digest whose SBOM no policy's
 * authority signed contributes only its unsigned `.sbom` attachments, if the
 * operator reads them (`--inventory-unsigned-sboms`), and those hits say so.
 *
 * Each digest's SBOMs are searched once per query, by binary search over
 * their sorted package keys, however many pods run it: 10,000 pods of 1,000
 * digests cost 1,000 lookups.
 */
import type { SignedSbom } from '../../policy/verification-cache.js';
import { componentsOfPackage } from '../../policy/verification-cache.js';
import { purlKey } from '../../sbom/purl.js';
import type { NormalisedSbom } from '../../sbom/model.js';
import { findPackage, matchComponents, type PackageMatch, type PackageRule } from '../../sbom/query.js';

/** One running container, as the controller tracks it. */
export interface RunningContainer {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** The image as the pod spec names it. */
  readonly image: string;
  /** `registry/repository@digest`, the evidence key. */
  readonly digestKey: string;
}

export interface ComponentHit {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly image: string;
  readonly digestKey: string;
  /** The component's purl as its SBOM spells it. */
  readonly purl: string;
  /** The version compared with the range (the purl's, else the component's). */
  readonly version?: string;
  /** `unparseable`: the version cannot be compared in the package's ecosystem. */
  readonly inRange: boolean | 'unparseable';
  /** From a signed SBOM attestation; false: from an unsigned `.sbom` attachment, which anyone who can push may write. */
  readonly signed: boolean;
}

interface DigestMatch {
  readonly purl: string;
  readonly version?: string;
  readonly inRange: boolean | 'unparseable';
  readonly signed: boolean;
}

/**
 * Every container whose digest's signed SBOMs list the rule's package, with
 * whether the version is in range. Callers filter on `inRange` (an incident
 * responder usually wants `true` and `unparseable`).
 */
export function containersWithPackage(
  rule: PackageRule,
  running: Iterable<RunningContainer>,
  sbomsOf: (digestKey: string) => readonly SignedSbom[],
  /** Unsigned attachments (searched linearly: few digests have them, and only when asked for). */
  unsignedOf: (digestKey: string) => readonly NormalisedSbom[] = () => [],
): ComponentHit[] {
  const key = purlKey(rule.purl);
  const perDigest = new Map<string, readonly DigestMatch[]>();
  const hits: ComponentHit[] = [];
  for (const c of running) {
    let matches = perDigest.get(c.digestKey);
    if (matches === undefined) {
      const seen = new Set<string>();
      const found: DigestMatch[] = [];
      const add = (m: PackageMatch, signed: boolean): void => {
        const purl = m.component.purl ?? m.component.name;
        // Several authorities may sign the same SBOM: report each component once per digest, signed first.
        const id = `${purl}\u0000${m.version ?? ''}`;
        if (seen.has(id)) return;
        seen.add(id);
        found.push({
          purl,
          ...(m.version === undefined ? {} : { version: m.version }),
          inRange: m.inRange,
          signed,
        });
      };
      for (const sbom of sbomsOf(c.digestKey))
        for (const m of matchComponents(componentsOfPackage(sbom, key), rule)) add(m, true);
      for (const sbom of unsignedOf(c.digestKey)) for (const m of findPackage(sbom, rule)) add(m, false);
      matches = found;
      perDigest.set(c.digestKey, matches);
    }
    for (const m of matches) hits.push({ ...c, ...m });
  }
  return hits;
}
