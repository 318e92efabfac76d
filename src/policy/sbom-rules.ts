/**
 * The `sbom` rules of a policy over the SBOMs of verified attestations
 * (design §2): required, maxAge, denied packages and licenses. The union of
 * all signed SBOMs is judged: a denied package in any of them is denied.
 * Unsigned `.sbom` attachments never reach this module.
 */
import type { UnknownReason } from '../base/reasons.js';
import { purlKey } from '../sbom/purl.js';
import { matchComponents } from '../sbom/query.js';
import type { CompiledDeniedPackage, CompiledSbomRule } from './compile.js';
import { deniedLicenses } from './licenses.js';
import { componentsOfPackage, type SbomReading, type SignedSbom } from './verification-cache.js';
import { compliant, type CheckOutcome, type Finding } from './verdict.js';

const check = 'sbom';

/** Reports stay readable and bounded however many components a hostile SBOM repeats. */
const maxFindings = 20;

export interface SbomContext {
  /** Whether "missing" may be concluded: complete evidence that included the `.att` tags. */
  readonly decidable: boolean;
  readonly incompleteReasons: readonly UnknownReason[];
  /** Set when the attestation sources served more than the limits let be judged (the answer is then that). */
  readonly overLimits?: string;
  readonly now: Date;
}

function describe(s: SignedSbom): string {
  return `${s.sbom.format} SBOM${s.sbom.subject === undefined ? '' : ` of ${s.sbom.subject}`}`;
}

function packageFindings(rule: CompiledSbomRule, denied: CompiledDeniedPackage, s: SignedSbom): Finding[] {
  const findings: Finding[] = [];
  const candidates = componentsOfPackage(s, purlKey(denied.purl));
  const wanted = { purl: denied.purl, ...(denied.range === undefined ? {} : { range: denied.range }) };
  for (const { component, version, inRange } of matchComponents(candidates, wanted)) {
    const what = `${component.purl ?? component.name} in the ${describe(s)}`;
    if (inRange === true) {
      findings.push({ check, reason: 'SbomDeniedPackage', message: `${what} is denied by ${denied.source}` });
    } else if (inRange === 'unparseable') {
      findings.push(
        rule.denyUnparseable
          ? {
              check,
              reason: 'SbomDeniedPackage',
              message: `${what}: version cannot be compared with ${denied.source}, denied (onUnparseableVersion: deny)`,
            }
          : {
              check,
              reason: 'VersionUnparseable',
              message: `${what}: version ${JSON.stringify(version ?? null)} cannot be compared with ${denied.source}`,
            },
      );
    }
  }
  return findings;
}

function licenseFindings(rule: CompiledSbomRule, s: SignedSbom): Finding[] {
  const findings: Finding[] = [];
  for (const license of s.licenses) {
    const hits = deniedLicenses(rule.licenses, license);
    if (hits.length === 0) continue;
    for (const c of s.sbom.components) {
      if (!c.licenses.includes(license)) continue;
      findings.push({
        check,
        reason: 'SbomDeniedLicense',
        message: `${c.purl ?? c.name} in the ${describe(s)} is licensed ${license} (denied: ${hits.join(', ')})`,
      });
    }
  }
  return findings;
}

/** The newest signed time, else document time, over the SBOMs; undefined when none is dated. */
function newestTime(sboms: readonly SignedSbom[]): Date | undefined {
  let newest: Date | undefined;
  for (const s of sboms) {
    const t = s.attestation.signedAt ?? s.sbom.created;
    if (t !== undefined && (newest === undefined || t > newest)) newest = t;
  }
  return newest;
}

/** At most `maxFindings` per reason, plus one line counting the rest. */
function bounded(findings: readonly Finding[]): Finding[] {
  const seen = new Map<string, number>();
  const kept: Finding[] = [];
  for (const f of findings) {
    const n = (seen.get(f.reason) ?? 0) + 1;
    seen.set(f.reason, n);
    if (n <= maxFindings) kept.push(f);
  }
  for (const [reason, n] of seen) {
    const sample = kept.find((f) => f.reason === reason);
    if (n > maxFindings && sample !== undefined) {
      kept.push({ ...sample, message: `…and ${String(n - maxFindings)} more ${reason} findings` });
    }
  }
  return kept;
}

export function checkSbomRules(
  rule: CompiledSbomRule,
  readings: readonly SbomReading[],
  context: SbomContext,
): CheckOutcome {
  if (!rule.active) return compliant();
  const sboms = readings.flatMap((r) => (r.ok ? [r.value] : []));
  if (sboms.length === 0) {
    if (!rule.required) return compliant();
    // Every reading failed here (none parsed), so the first one, if any, is broken.
    const broken = readings[0];
    if (broken !== undefined && !broken.ok) {
      return {
        verdict: 'NonCompliant',
        findings: [
          {
            check,
            reason: 'AttestationInvalid',
            message: `a signed SBOM attestation is not a valid SBOM: ${broken.message}`,
          },
        ],
      };
    }
    if (!context.decidable) {
      return {
        verdict: 'Unknown',
        findings: context.incompleteReasons.map((reason) => ({
          check,
          reason,
          message: 'the attestations could not all be read, so a missing SBOM cannot be concluded',
        })),
      };
    }
    return {
      verdict: 'NonCompliant',
      findings: [
        context.overLimits === undefined
          ? {
              check,
              reason: 'SbomMissing',
              message: 'no SBOM attestation verified by the policy authorities',
            }
          : { check, reason: 'EvidenceLimitExceeded', message: context.overLimits },
      ],
    };
  }
  const findings: Finding[] = [];
  let validUntil: Date | undefined;
  if (rule.maxAgeMs !== undefined) {
    const newest = newestTime(sboms);
    if (newest === undefined) {
      findings.push({
        check,
        reason: 'SbomUndated',
        message: 'no SBOM has a signed time or a document creation time',
      });
    } else {
      const expires = new Date(newest.getTime() + rule.maxAgeMs);
      if (expires <= context.now) {
        findings.push({
          check,
          reason: 'SbomTooOld',
          message: `the newest SBOM is from ${newest.toISOString()}, older than maxAge`,
        });
      } else {
        validUntil = expires;
      }
    }
  }
  for (const s of sboms) {
    for (const denied of rule.packages) findings.push(...packageFindings(rule, denied, s));
    findings.push(...licenseFindings(rule, s));
  }
  if (findings.length === 0) return compliant(validUntil);
  const definite = findings.some((f) => f.reason !== 'VersionUnparseable');
  return {
    verdict: definite ? 'NonCompliant' : 'Unknown',
    findings: bounded(findings),
    ...(validUntil === undefined ? {} : { validUntil }),
  };
}
