/**
 * Compiling a policy: validate the spec, resolve what its authorities refer
 * to (keys in Secrets, trusted roots in ConfigMaps) and pre-build everything
 * evaluation needs — authorities with parsed keys and RE2 matchers, globs,
 * purls and ranges, expiry instants — so that evaluating one digest against
 * one policy parses nothing.
 *
 * A policy that fails validation or resolution compiles to a not-ready
 * policy: the evaluator answers `PolicyNotReady` (Unknown) for it and every
 * other policy is unaffected (design §6).
 */
import { createHash } from 'node:crypto';
import { parsePurl, type Purl } from '../sbom/purl.js';
import { parseRange, type Range } from '../sbom/range.js';
import type { Authority as VerifyAuthority } from '../verify/authority.js';
import { exactIdentity, regexpIdentity } from '../verify/identity.js';
import { parsePublicKey, spkiDer } from '../verify/keys.js';
import { resolvePredicateType } from '../verify/predicate-types.js';
import type { ProvenanceRequirement } from '../verify/provenance.js';
import type { LoadedTrustRoot } from '../verify/trust.js';
import { parseDuration } from './duration.js';
import { canonicalGlob, compileGlob, type ImageGlob } from './glob.js';
import { compileLicenseDenyList, type LicenseDenyList } from './licenses.js';
import type { Authority, ImagePolicySpec } from './spec.js';
import { secretKeyId, type TrustMaterial } from './trust-material.js';
import { validatePolicySpec, type PolicyProblem, type PolicyWarning } from './validate.js';

export interface CompiledAuthority {
  readonly authority: VerifyAuthority;
  /**
   * Equal keys verify identically: name, key or identity, log requirement,
   * trust root and trust generation. Verification results are cached under it
   * (verification-cache.ts), so editing a policy's SBOM rules re-runs no crypto.
   */
  readonly cacheKey: string;
  /** Uses the public-good root while it is stale: untrusted chains and logs are then Unknown. */
  readonly staleTrust: boolean;
  readonly sourceRepository?: string;
}

export interface CompiledAttestationRule {
  readonly name: string;
  /** Resolved predicate type URI. */
  readonly predicateType: string;
  readonly provenance?: ProvenanceRequirement;
}

export interface CompiledDeniedPackage {
  /** The rule as written, for messages. */
  readonly source: string;
  readonly purl: Purl;
  /** Absent: every version is denied. */
  readonly range?: Range;
}

export interface CompiledSbomRule {
  readonly required: boolean;
  readonly maxAgeMs?: number;
  readonly packages: readonly CompiledDeniedPackage[];
  readonly licenses: LicenseDenyList;
  readonly denyUnparseable: boolean;
  /** Whether any rule reads SBOM contents or dates at all. */
  readonly active: boolean;
}

export interface CompiledException {
  readonly images: readonly ImageGlob[];
  readonly reason: string;
  readonly expires: Date;
}

interface PolicyIdentity {
  readonly name: string;
  readonly generation: number;
  /** `name@generation#trustGeneration`: the policy part of the evaluation cache key. */
  readonly key: string;
}

export interface ReadyPolicy extends PolicyIdentity {
  readonly ready: true;
  readonly spec: ImagePolicySpec;
  readonly warnings: readonly PolicyWarning[];
  readonly images: readonly ImageGlob[];
  readonly authorities: readonly CompiledAuthority[];
  readonly attestations: readonly CompiledAttestationRule[];
  readonly sbom: CompiledSbomRule;
  readonly exceptions: readonly CompiledException[];
  /** Whether evidence must include `.att` tags for this policy (any attestation or SBOM rule). */
  readonly needsAttestations: boolean;
}

export interface NotReadyPolicy extends PolicyIdentity {
  readonly ready: false;
  /** Globs when they at least compiled, so the policy can still claim (and hold as Unknown) its images. */
  readonly images: readonly ImageGlob[];
  readonly problems: readonly PolicyProblem[];
  readonly warnings: readonly PolicyWarning[];
  /**
   * The spec, when it is valid and only its trust material is missing (a key Secret deleted, a
   * trusted root not loaded): admission still knows whom the policy covers and what it wants done
   * with an image it cannot judge.
   */
  readonly spec?: ImagePolicySpec;
}

export type CompiledPolicy = ReadyPolicy | NotReadyPolicy;

export interface PolicySource {
  readonly name: string;
  /** metadata.generation; the CLI passes 1. */
  readonly generation: number;
  /** Untrusted `spec`, validated here. */
  readonly spec: unknown;
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

function globs(list: readonly string[]): ImageGlob[] {
  // Validation already refused globs that do not compile.
  return list.flatMap((g) => compileGlob(g) ?? []);
}

/**
 * Globs of a spec that failed validation, best effort: only for claiming
 * images while not ready (so they are Unknown `PolicyNotReady`, never
 * Unmatched). A glob refused only for its spelling (`GHCR.IO/**`, written
 * before names were canonical) claims what its canonical spelling would.
 */
function salvageGlobs(spec: unknown): ImageGlob[] {
  const images = (spec as { match?: { images?: unknown } } | undefined)?.match?.images;
  if (!Array.isArray(images)) return [];
  return images.flatMap((g) => (typeof g === 'string' ? (compileGlob(canonicalGlob(g) ?? g) ?? []) : []));
}

type Resolved<T> = { readonly value: T } | { readonly problem: PolicyProblem };

function resolveAuthority(a: Authority, path: string, trust: TrustMaterial): Resolved<CompiledAuthority> {
  const source = a.source === undefined ? {} : { sourceRepository: a.source.repository };
  if (a.key !== undefined) {
    let pem = a.key.publicKey;
    if (a.key.secretRef !== undefined) {
      pem = trust.secretKeys.get(secretKeyId(a.key.secretRef));
      if (pem === undefined) {
        const ref = a.key.secretRef;
        return {
          problem: {
            path: `${path}.key.secretRef`,
            code: 'ReferenceNotFound',
            message: `no key ${JSON.stringify(ref.key)} in Secret ${JSON.stringify(ref.name)}`,
          },
        };
      }
    }
    let publicKey;
    try {
      publicKey = parsePublicKey(pem ?? '');
    } catch {
      return {
        problem: {
          path: `${path}.key.secretRef`,
          code: 'InvalidPublicKey',
          message: 'the Secret does not hold a PEM public key',
        },
      };
    }
    // Key signatures are checked against the public-good log when one is present or required.
    const root = trust.publicGood.root;
    return {
      value: {
        authority: {
          kind: 'key',
          name: a.name,
          publicKey,
          trust: root,
          requireTransparencyLog: a.requireTransparencyLog,
        },
        cacheKey: JSON.stringify([
          'key',
          a.name,
          sha256(spkiDer(publicKey)),
          a.requireTransparencyLog,
          trust.generation,
        ]),
        staleTrust: a.requireTransparencyLog && trust.publicGood.stale,
        ...source,
      },
    };
  }
  const k = a.keyless;
  if (k === undefined) throw new Error('validated authority has neither key nor keyless');
  let root: LoadedTrustRoot | undefined = trust.publicGood.root;
  if (k.trustedRootRef !== undefined) {
    root = trust.trustedRoots.get(k.trustedRootRef.name);
    if (root === undefined) {
      return {
        problem: {
          path: `${path}.keyless.trustedRootRef`,
          code: 'ReferenceNotFound',
          message: `no valid trusted root in ConfigMap ${JSON.stringify(k.trustedRootRef.name)}`,
        },
      };
    }
  }
  return {
    value: {
      authority: {
        kind: 'keyless',
        name: a.name,
        // Validation compiled the same pattern, so this cannot throw.
        identity: k.subject !== undefined ? exactIdentity(k.subject) : regexpIdentity(k.subjectRegExp ?? ''),
        issuer: k.issuer !== undefined ? exactIdentity(k.issuer) : regexpIdentity(k.issuerRegExp ?? ''),
        trust: root,
        requireTransparencyLog: a.requireTransparencyLog,
      },
      cacheKey: JSON.stringify([
        'keyless',
        a.name,
        k.issuer ?? null,
        k.issuerRegExp ?? null,
        k.subject ?? null,
        k.subjectRegExp ?? null,
        k.trustedRootRef?.name ?? null,
        a.requireTransparencyLog,
        trust.generation,
      ]),
      // An admin's own root is never stale: it is whatever the admin gave (design §3).
      staleTrust: k.trustedRootRef === undefined && trust.publicGood.stale,
      ...source,
    },
  };
}

function compileSbomRule(spec: ImagePolicySpec): CompiledSbomRule {
  const s = spec.sbom;
  const packages = s.deny.packages.flatMap((p): CompiledDeniedPackage[] => {
    const purl = parsePurl(p.purl);
    if (purl === undefined) return [];
    const range = p.versions === undefined ? undefined : parseRange(p.versions, purl.type);
    const source = p.versions === undefined ? p.purl : `${p.purl} ${p.versions}`;
    return [{ source, purl, ...(range === undefined ? {} : { range }) }];
  });
  const maxAgeMs = s.maxAge === undefined ? undefined : parseDuration(s.maxAge);
  return {
    required: s.required,
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    packages,
    licenses: compileLicenseDenyList(s.deny.licenses),
    denyUnparseable: s.onUnparseableVersion === 'deny',
    active: s.required || maxAgeMs !== undefined || packages.length > 0 || s.deny.licenses.length > 0,
  };
}

/**
 * Compiles one policy against the current trust material. Never throws on
 * user input: every problem is returned on a not-ready policy.
 */
export function compilePolicy(source: PolicySource, trust: TrustMaterial): CompiledPolicy {
  const identity: PolicyIdentity = {
    name: source.name,
    generation: source.generation,
    key: `${source.name}@${String(source.generation)}#${String(trust.generation)}`,
  };
  const validation = validatePolicySpec(source.spec);
  const spec = validation.spec;
  if (spec === undefined) {
    return {
      ...identity,
      ready: false,
      images: salvageGlobs(source.spec),
      problems: validation.problems,
      warnings: validation.warnings,
    };
  }
  const images = globs(spec.match.images);
  const authorities: CompiledAuthority[] = [];
  const problems: PolicyProblem[] = [];
  spec.authorities.forEach((a, i) => {
    const r = resolveAuthority(a, `spec.authorities[${String(i)}]`, trust);
    if ('value' in r) authorities.push(r.value);
    else problems.push(r.problem);
  });
  if (problems.length > 0) {
    return { ...identity, ready: false, images, problems, warnings: validation.warnings, spec };
  }
  const attestations = spec.attestations.map((r): CompiledAttestationRule => {
    const p = r.provenance;
    return {
      name: r.name,
      predicateType: resolvePredicateType(r.predicateType) ?? r.predicateType,
      ...(p === undefined
        ? {}
        : {
            provenance: {
              builderIdRegExp: regexpIdentity(p.builderIdRegExp),
              ...(p.sourceRepositories.length === 0 ? {} : { sourceRepositories: p.sourceRepositories }),
              ...(p.buildType === undefined ? {} : { buildType: p.buildType }),
            },
          }),
    };
  });
  const sbom = compileSbomRule(spec);
  return {
    ...identity,
    ready: true,
    spec,
    warnings: validation.warnings,
    images,
    authorities,
    attestations,
    sbom,
    exceptions: spec.exceptions.map((e) => ({
      images: globs(e.images),
      reason: e.reason,
      expires: new Date(e.expires),
    })),
    needsAttestations: attestations.length > 0 || sbom.active,
  };
}
