/**
 * Cryptographic results per (evidence, authority), computed on first use and
 * kept for as long as the evidence object lives. Evidence objects are
 * immutable and replaced on every refresh that changed something, so object
 * identity is the evidence version; a WeakMap lets the store drop them.
 *
 * Why: after a policy edit the evaluator re-judges every digest (design §4,
 * "impact on the whole cluster in about a second"). The policy's rules are
 * cheap to re-apply; signature, certificate and log checks are not, and they
 * depend only on the evidence and the authority (its cacheKey), never on the
 * rest of the policy.
 */
import { parseSbom } from '../sbom/parse.js';
import type { NormalisedSbom, SbomComponent } from '../sbom/model.js';
import { ComponentInterner } from '../sbom/intern.js';
import type { Evidence } from '../registry/evidence.js';
import {
  collectVerifiedAttestations,
  type CollectedAttestations,
  type VerifiedAttestation,
} from '../verify/attestations.js';
import { signatureResults } from '../verify/image-signatures.js';
import { isSbomPredicate } from '../verify/predicate-types.js';
import type { SignatureResult } from '../verify/result.js';
import type { CompiledAuthority } from './compile.js';

/** An SBOM from a verified attestation, its components shared with every other SBOM in memory (intern.ts). */
export interface SignedSbom {
  readonly sbom: NormalisedSbom;
  readonly attestation: VerifiedAttestation;
  /**
   * The components' package keys (purlKey; shared strings, computed once per
   * distinct component), sorted, and for each the index of its component in
   * `sbom.components`. Deny rules binary-search it: as fast as a map for a
   * policy edit that re-judges every digest, at a fifth of a map's memory
   * per digest. Components without a parseable purl are not in it.
   */
  readonly packageKeys: readonly string[];
  readonly packageComponents: Uint32Array;
  /** The distinct license entries of the components: documents repeat a few licenses over many components. */
  readonly licenses: readonly string[];
}

/** The components whose package key is `key`, in document order. */
export function componentsOfPackage(s: SignedSbom, key: string): SbomComponent[] {
  const keys = s.packageKeys;
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] ?? '') < key) lo = mid + 1;
    else hi = mid;
  }
  const found: SbomComponent[] = [];
  for (let i = lo; i < keys.length && keys[i] === key; i++) {
    const component = s.sbom.components[s.packageComponents[i] ?? -1];
    if (component !== undefined) found.push(component);
  }
  return found;
}

export type SbomReading =
  { readonly ok: true; readonly value: SignedSbom } | { readonly ok: false; readonly message: string };

interface Entry {
  signatures?: { readonly results: readonly SignatureResult[]; readonly until: number };
  attestations?: CollectedAttestations;
}

/** Verification results may depend on `now` only through certificate validity judged at `now`. */
function stableUntil(results: readonly SignatureResult[]): number {
  let until = Infinity;
  for (const r of results) {
    if (r.ok && r.signedAt === undefined && r.validUntil !== undefined)
      until = Math.min(until, r.validUntil.getTime());
  }
  return until;
}

/** Shared by every cache: the same package in two SBOMs is one object in memory. */
const interner = new ComponentInterner();

function indexed(sbom: NormalisedSbom, attestation: VerifiedAttestation): SignedSbom {
  const components: SbomComponent[] = [];
  const keyed: { key: string; at: number }[] = [];
  const licenses = new Set<string>();
  for (const original of sbom.components) {
    const { component, packageKey } = interner.intern(original);
    if (packageKey !== undefined) keyed.push({ key: packageKey, at: components.length });
    components.push(component);
    for (const license of component.licenses) licenses.add(license);
  }
  // Stable for equal keys: findings keep document order.
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.at - b.at));
  return {
    sbom: { ...sbom, components },
    attestation,
    packageKeys: keyed.map((k) => k.key),
    packageComponents: Uint32Array.from(keyed, (k) => k.at),
    licenses: [...licenses],
  };
}

export class VerificationCache {
  private readonly entries = new WeakMap<Evidence, Map<string, Entry>>();
  private readonly sboms = new WeakMap<VerifiedAttestation, SbomReading>();

  private entry(evidence: Evidence, authority: CompiledAuthority): Entry {
    let perEvidence = this.entries.get(evidence);
    if (perEvidence === undefined) {
      perEvidence = new Map();
      this.entries.set(evidence, perEvidence);
    }
    let entry = perEvidence.get(authority.cacheKey);
    if (entry === undefined) {
      entry = {};
      perEvidence.set(authority.cacheKey, entry);
    }
    return entry;
  }

  signatures(evidence: Evidence, authority: CompiledAuthority, now: Date): readonly SignatureResult[] {
    const entry = this.entry(evidence, authority);
    if (entry.signatures === undefined || now.getTime() >= entry.signatures.until) {
      const results = signatureResults(evidence, authority.authority, now);
      entry.signatures = { results, until: stableUntil(results) };
    }
    return entry.signatures.results;
  }

  /**
   * Verified attestations under one authority. An SBOM predicate is parsed
   * here, once, and dropped from the kept statement: the normalised SBOM is
   * a fraction of the document's JSON, and thousands of digests each holding
   * a whole SBOM as objects is what the operator's memory budget cannot afford.
   */
  attestations(evidence: Evidence, authority: CompiledAuthority, now: Date): CollectedAttestations {
    const entry = this.entry(evidence, authority);
    if (entry.attestations === undefined) {
      const collected = collectVerifiedAttestations(evidence, [authority.authority], now);
      entry.attestations = { ...collected, verified: collected.verified.map((a) => this.slim(a)) };
    }
    return entry.attestations;
  }

  private slim(a: VerifiedAttestation): VerifiedAttestation {
    if (!isSbomPredicate(a.predicateType)) return a;
    const slim: VerifiedAttestation = { ...a, statement: { ...a.statement, predicate: undefined } };
    let reading: SbomReading;
    try {
      reading = { ok: true, value: indexed(parseSbom(a.statement.predicate), slim) };
    } catch (error: unknown) {
      reading = { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
    this.sboms.set(slim, reading);
    return slim;
  }

  /**
   * The SBOM a verified SBOM attestation carries, parsed once. Never throws:
   * a document that is not a valid SBOM is reported with its one-line reason.
   */
  sbom(attestation: VerifiedAttestation): SbomReading | undefined {
    if (!isSbomPredicate(attestation.predicateType)) return undefined;
    let reading = this.sboms.get(attestation);
    if (reading === undefined) {
      try {
        reading = { ok: true, value: indexed(parseSbom(attestation.statement.predicate), attestation) };
      } catch (error: unknown) {
        reading = { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
      this.sboms.set(attestation, reading);
    }
    return reading;
  }
}
