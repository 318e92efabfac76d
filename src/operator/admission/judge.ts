/**
 * The admission decision (issue 17): every ImagePolicy that selects the pod
 * (same scope rules as at runtime) and has admission enabled judges each
 * image it matches, by the same pure evaluator on the same kind of
 * evidence. What a verdict does here:
 *
 * | verdict      | Enforce                         | Audit   |
 * |--------------|---------------------------------|---------|
 * | NonCompliant | refused                         | warning |
 * | Unknown      | `onUnknown`: refused or warning | warning |
 * | Exempt, Compliant | admitted                   | —       |
 *
 * Tags are resolved to digests here, with the credentials the caller set up
 * for this pod; a digest already judged is answered from memory by the
 * `ImageJudge` the caller passes.
 */
import pLimit from 'p-limit';
import type { Digest } from '../../base/digest.js';
import type { Reason } from '../../base/reasons.js';
import type { CompiledPolicy, ReadyPolicy } from '../../policy/compile.js';
import type { ImagePolicySpec } from '../../policy/spec.js';
import { policyMatches } from '../../policy/evaluate.js';
import { combineBySignatureOn, needsRelated, type Related } from '../../policy/signature-on.js';
import type { PolicyVerdict, Verdict } from '../../policy/verdict.js';
import { RegistryError, unknownReasonFor } from '../../registry/errors.js';
import type { Evidence } from '../../registry/evidence.js';
import { parseReference, type ImageReference } from '../../registry/reference.js';
import type { EvidenceKey } from '../evidence/store.js';
import { imageName } from '../pod.js';
import { reportedKind } from '../verdicts/related-verdicts.js';
import { policySelectsPod } from '../verdicts/scope.js';
import type { PodTemplate, TemplateContainer } from './workloads.js';

/** What the decision needs from the registry and the evaluator. */
export interface ImageJudge {
  /** The digest `ref`'s tag names now; undefined when the registry definitively has no such tag. */
  resolve(ref: ImageReference, signal: AbortSignal): Promise<Digest | undefined>;
  /** The runnable platform manifests of an index (for `match.signatureOn`). */
  platformsOf(key: EvidenceKey, signal: AbortSignal): Promise<readonly Digest[] | 'none' | 'unresolved'>;
  /** Evidence for the digest covering what `policies` need (from memory when fresh). */
  evidence(key: EvidenceKey, policies: readonly ReadyPolicy[], signal: AbortSignal): Promise<Evidence>;
  evaluate(evidence: Evidence, policy: ReadyPolicy, now: Date): PolicyVerdict;
}

export interface AdmissionWorld {
  readonly policies: readonly CompiledPolicy[];
  readonly operatorNamespace: string;
  /** The namespace's labels; undefined when it does not exist. */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
}

/** One policy's verdict on one image of the request. */
export interface ImageResult {
  readonly policy: string;
  readonly container: string;
  readonly image: string;
  readonly digest?: Digest;
  readonly verdict: Verdict;
  readonly reasons: readonly Reason[];
  readonly message: string;
  readonly effect: 'Deny' | 'Warn' | 'Allow';
}

export interface AdmissionDecision {
  readonly allowed: boolean;
  readonly results: readonly ImageResult[];
  /** Warnings for kubectl (policies not ready, images not judged…), besides the results'. */
  readonly notes: readonly string[];
  /** Each image's digest as resolved here (tags only), for pinning. */
  readonly resolved: ReadonlyMap<string, Digest>;
}

/** Distinct images a policy matches, judged per request at most; more is refused as a whole (no real pod has them). */
export const maxImagesPerRequest = 64;

/** Images resolved and judged at once within one request. */
const imageConcurrency = 8;

/** What a policy wants at admission, from its mode and `admission` settings. */
type AdmittingSpec = Pick<ImagePolicySpec, 'mode' | 'admission' | 'match'>;

/**
 * What a verdict does. `definite`: an Unknown whose cause is a definite
 * answer (no such tag, a digest Sigwatch cannot verify, more images than it
 * judges) — nothing later could make it pass, so Enforce refuses it
 * whatever `onUnknown` says.
 */
function effectOf(spec: AdmittingSpec, verdict: Verdict, definite = false): ImageResult['effect'] {
  if (verdict === 'Compliant' || verdict === 'Exempt') return 'Allow';
  if (spec.mode === 'Audit') return 'Warn';
  if (verdict === 'NonCompliant' || definite) return 'Deny';
  return spec.admission.onUnknown === 'Deny' ? 'Deny' : 'Warn';
}

function unknownResult(
  policy: { readonly name: string; readonly spec: AdmittingSpec },
  base: { container: string; image: string; digest?: Digest },
  reason: Reason,
  message: string,
  definite = false,
): ImageResult {
  return {
    ...base,
    policy: policy.name,
    verdict: 'Unknown',
    reasons: [reason],
    message,
    effect: effectOf(policy.spec, 'Unknown', definite),
  };
}

function failureOf(error: unknown): { reason: Reason; message: string } {
  if (error instanceof RegistryError) return { reason: unknownReasonFor(error.code), message: error.message };
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
    return {
      reason: 'RegistryUnavailable',
      message: 'the registry did not answer within the admission deadline',
    };
  return { reason: 'EvidenceIncomplete', message: error instanceof Error ? error.message : String(error) };
}

/** A policy whose spec is valid but whose trust material is missing: it covers, but cannot judge. */
interface BrokenPolicy {
  readonly name: string;
  readonly spec: ImagePolicySpec;
  readonly compiled: CompiledPolicy;
  readonly problem: string;
}

/** The policies that judge this template at admission, those that cannot (yet), and notes. */
export function admittingPolicies(
  template: PodTemplate,
  world: AdmissionWorld,
): { policies: ReadyPolicy[]; broken: BrokenPolicy[]; notes: string[] } {
  const notes: string[] = [];
  const policies: ReadyPolicy[] = [];
  const broken: BrokenPolicy[] = [];
  const context = { operatorNamespace: world.operatorNamespace, namespaceLabels: world.namespaceLabels };
  for (const p of world.policies) {
    if (p.ready) {
      if (p.spec.admission.enabled && policySelectsPod(p, template, context)) policies.push(p);
      continue;
    }
    const spec = p.spec;
    if (spec !== undefined) {
      // Valid, only its keys or roots are missing: Unknown PolicyNotReady, handled like any Unknown.
      if (spec.admission.enabled && policySelectsPod({ spec }, template, context)) {
        const first = p.problems[0];
        broken.push({
          name: p.name,
          spec,
          compiled: p,
          problem: first === undefined ? 'not ready' : `${first.path}: ${first.message}`,
        });
      }
      continue;
    }
    // A spec that does not validate (the CRD schema refuses most): whom it covers is unknown, so it
    // judges nothing, and says so where its image globs match.
    if (template.containers.some((c) => policyMatchesImage(p, c.image)))
      notes.push(`ImagePolicy ${p.name} is not ready and was not applied`);
  }
  return { policies, broken, notes };
}

function referenceOf(image: string): ImageReference | undefined {
  try {
    return parseReference(image);
  } catch {
    return undefined;
  }
}

/**
 * The name of a reference whose digest Sigwatch cannot read (`repo@sha512:…`,
 * which the kubelet pulls): judged by name, never let through unjudged.
 */
function nameOfUnverifiable(image: string): ImageReference | undefined {
  const at = image.indexOf('@');
  if (at < 0 || image.slice(at + 1).startsWith('sha256:')) return undefined;
  return referenceOf(image.slice(0, at));
}

/** Whether `policy` matches `image` by name (an image that does not parse matches nothing). */
export function policyMatchesImage(policy: CompiledPolicy, image: string): boolean {
  const ref = referenceOf(image);
  return ref !== undefined && policyMatches(policy, imageName(ref));
}

/**
 * Judges `containers` of `template` (all of them, or only those an update
 * changed). Never throws: a registry failure is an Unknown verdict.
 */
export async function decide(a: {
  readonly template: PodTemplate;
  readonly containers: readonly TemplateContainer[];
  readonly world: AdmissionWorld;
  readonly judge: ImageJudge;
  readonly now: Date;
  readonly signal: AbortSignal;
}): Promise<AdmissionDecision> {
  const { policies, broken, notes } = admittingPolicies(a.template, a.world);
  const resolved = new Map<string, Digest>();
  if (policies.length === 0 && broken.length === 0) return { allowed: true, results: [], notes, resolved };
  const results: ImageResult[] = [];
  const judged = new Map<
    string,
    { container: TemplateContainer; ref: ImageReference; matching: ReadyPolicy[] }
  >();
  for (const c of a.containers) {
    if (judged.has(c.image)) continue;
    const ref = referenceOf(c.image);
    if (ref === undefined) {
      const named = nameOfUnverifiable(c.image);
      const covering =
        named === undefined
          ? []
          : [
              ...policies.filter((p) => policyMatches(p, imageName(named))),
              ...broken.filter((p) => policyMatches(p.compiled, imageName(named))),
            ];
      for (const p of covering)
        results.push(
          unknownResult(
            p,
            { container: c.name, image: c.image },
            'DigestUnresolved',
            'only sha256 digests can be verified',
            true,
          ),
        );
      if (covering.length === 0)
        notes.push(
          `container ${c.name}: ${JSON.stringify(c.image.slice(0, 100))} is not an image reference; not judged`,
        );
      continue;
    }
    for (const p of broken)
      if (policyMatches(p.compiled, imageName(ref)))
        results.push(unknownResult(p, { container: c.name, image: c.image }, 'PolicyNotReady', p.problem));
    const matching = policies.filter((p) => policyMatches(p, imageName(ref)));
    if (matching.length > 0) judged.set(c.image, { container: c, ref, matching });
  }
  if (judged.size > maxImagesPerRequest) {
    const message = `${String(judged.size)} distinct images; at most ${String(maxImagesPerRequest)} are judged per request`;
    results.push(
      ...policies.map((p) =>
        unknownResult(p, { container: '*', image: '*' }, 'EvidenceIncomplete', message, true),
      ),
    );
    return { allowed: !results.some((r) => r.effect === 'Deny'), results, notes, resolved };
  }
  const limit = pLimit(imageConcurrency);
  const perImage = await Promise.all(
    [...judged.values()].map(({ container: c, ref, matching }) =>
      limit(async (): Promise<ImageResult[]> => {
        const base = { container: c.name, image: c.image };
        let digest = ref.digest;
        if (digest === undefined) {
          try {
            digest = await a.judge.resolve(ref, a.signal);
          } catch (error: unknown) {
            const f = failureOf(error);
            return matching.map((p) => unknownResult(p, base, f.reason, f.message));
          }
          // The registry's own answer that the tag does not exist: nothing to verify, now or on a retry.
          if (digest === undefined)
            return matching.map((p) =>
              unknownResult(
                p,
                base,
                'DigestUnresolved',
                `the registry has no tag ${ref.tag ?? 'latest'} in ${imageName(ref)}`,
                true,
              ),
            );
          resolved.set(c.image, digest);
        }
        const withDigest = { ...base, digest };
        const key = { registry: ref.registry, repository: ref.repository, digest };
        let evidence: Evidence;
        try {
          evidence = await a.judge.evidence(key, matching, a.signal);
        } catch (error: unknown) {
          const f = failureOf(error);
          return matching.map((p) => unknownResult(p, withDigest, f.reason, f.message));
        }
        const verdicts = await Promise.all(
          matching.map((p) => bySignatureOn(a, key, evidence, p, a.judge.evaluate(evidence, p, a.now))),
        );
        return matching.map((p, i): ImageResult => {
          const v = verdicts[i] ?? a.judge.evaluate(evidence, p, a.now);
          return {
            ...withDigest,
            policy: p.name,
            verdict: v.verdict,
            reasons: v.reasons,
            message:
              v.verdict === 'Exempt' ? `exempt: ${v.exemptBecause ?? ''}` : (v.findings[0]?.message ?? ''),
            effect: effectOf(p.spec, v.verdict),
          };
        });
      }),
    ),
  );
  results.push(...perImage.flat());
  return { allowed: !results.some((r) => r.effect === 'Deny'), results, notes, resolved };
}

/**
 * `match.signatureOn` at admission, as at runtime (related-verdicts.ts): an
 * index whose own verdict does not settle it is judged with every runnable
 * platform manifest it lists (the node that will run it is not known yet).
 * A platform manifest named here was named directly (a tag or digest that
 * points at it): it has no index to relate.
 */
async function bySignatureOn(
  a: { readonly judge: ImageJudge; readonly now: Date; readonly signal: AbortSignal },
  key: EvidenceKey,
  evidence: Evidence,
  policy: ReadyPolicy,
  own: PolicyVerdict,
): Promise<PolicyVerdict> {
  const on = policy.spec.match.signatureOn;
  const kind = reportedKind(evidence.imageMediaType);
  if (kind === undefined || !needsRelated(on, kind, own)) return own;
  let related: Related;
  if (kind === 'platform') related = 'none';
  else {
    try {
      const platforms = await a.judge.platformsOf(key, a.signal);
      related =
        typeof platforms === 'string'
          ? platforms
          : await Promise.all(
              platforms.map(async (digest) =>
                a.judge.evaluate(
                  await a.judge.evidence({ ...key, digest }, [policy], a.signal),
                  policy,
                  a.now,
                ),
              ),
            );
    } catch {
      related = 'failed'; // an outage is never a definite answer
    }
  }
  return combineBySignatureOn(on, kind, own, related) ?? own;
}
