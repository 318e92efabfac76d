/**
 * Reassembles an audit report from its ImageAuditReport parts (cut by
 * audit-report-parts.ts). Pure. The API server has checked each part
 * against the CRD schema, but anyone allowed to write these objects can
 * write them, so every field is checked again here and a part that does not
 * fit is refused with its path, never half-read.
 */
import type { AuditReport, ReportEntry, SignatureStanding } from '../../audit/report.js';
import { definiteReasons, unknownReasons, type Reason } from '../../base/reasons.js';
import type { Verdict } from '../../policy/verdict.js';
import { AuditReportError } from './report-parts.js';
import { isJsonObject } from '../../base/json.js';

type Json = Readonly<Record<string, unknown>>;

const verdicts: readonly Verdict[] = ['Compliant', 'NonCompliant', 'Unknown', 'Exempt'];
const standings: readonly SignatureStanding[] = ['trusted', 'untrusted', 'unsigned', 'unknown'];
const reasons: readonly string[] = [...definiteReasons, ...unknownReasons];

/** Typed reads of one part's fields; the first misfit throws `ReportMalformed` with its path. */
class Fields {
  constructor(private readonly where: string) {}

  fail(path: string, expected: string): never {
    throw new AuditReportError('ReportMalformed', `${this.where}: ${path}: expected ${expected}`);
  }

  object(v: unknown, path: string): Json {
    return isJsonObject(v) ? v : this.fail(path, 'an object');
  }

  string(v: unknown, path: string): string {
    return typeof v === 'string' ? v : this.fail(path, 'a string');
  }

  count(v: unknown, path: string): number {
    return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : this.fail(path, 'a count');
  }

  oneOf<T extends string>(v: unknown, values: readonly T[], path: string): T {
    return values.find((x) => x === v) ?? this.fail(path, values.join(' | '));
  }

  /** An absent list is empty. */
  strings(v: unknown, path: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.fail(path, 'a list');
    return v.map((s, i) => this.string(s, `${path}[${String(i)}]`));
  }

  list(v: unknown, path: string): unknown[] {
    if (v === undefined) return [];
    return Array.isArray(v) ? v : this.fail(path, 'a list');
  }
}

interface Mutable {
  image: string;
  references: string[];
  pods: string[];
  verdict: Verdict;
  reasons: Reason[];
  signature: SignatureStanding;
  signedSbom: boolean;
  policies: string[];
}

/**
 * The whole report from `parts` (part 0 first, in order).
 * @throws AuditReportError `ReportMalformed` (a field, a part number or the part count does not fit),
 *   `ReportPartMissing` (fewer parts than part 0 names)
 */
export function joinReport(namespace: string, parts: readonly unknown[]): AuditReport {
  const f0: Fields = new Fields('part 0');
  const first = f0.object(parts[0], '');
  const count = f0.count(first['parts'], 'parts');
  if (parts.length < count)
    throw new AuditReportError(
      'ReportPartMissing',
      `part 0 names ${String(count)} parts, ${String(parts.length)} found`,
    );
  if (parts.length > count) f0.fail('parts', `${String(parts.length)} (the parts given)`);
  const s = f0.object(first['summary'], 'summary');
  const n = (k: string): number => f0.count(s[k], `summary.${k}`);
  const percent = s['compliancePercent'];
  if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100))
    f0.fail('summary.compliancePercent', 'a number from 0 to 100');
  const entries: Mutable[] = [];
  const unmatchedPods: string[] = [];
  parts.forEach((raw, i) => {
    const f: Fields = new Fields(`part ${String(i)}`);
    const o = f.object(raw, '');
    if (o['part'] !== i) f.fail('part', String(i));
    f.list(o['entries'], 'entries').forEach((rawEntry, j) => {
      const path = `entries[${String(j)}]`;
      const e = f.object(rawEntry, path);
      const image = f.string(e['image'], `${path}.image`);
      const lists = {
        references: f.strings(e['references'], `${path}.references`),
        pods: f.strings(e['pods'], `${path}.pods`),
        policies: f.strings(e['policies'], `${path}.policies`),
      };
      if (e['continued'] === true) {
        // The rest of the previous entry's lists (the report's first entry cannot be a continuation).
        const previous = entries.at(-1);
        if (previous?.image !== image) f.fail(`${path}.continued`, 'to follow a piece of the same image');
        previous.references.push(...lists.references);
        previous.pods.push(...lists.pods);
        previous.policies.push(...lists.policies);
        return;
      }
      const signedSbom = e['signedSbom'];
      if (typeof signedSbom !== 'boolean') f.fail(`${path}.signedSbom`, 'a boolean');
      entries.push({
        image,
        ...lists,
        verdict: f.oneOf(e['verdict'], verdicts, `${path}.verdict`),
        reasons: f
          .strings(e['reasons'], `${path}.reasons`)
          .map((r, k) => f.oneOf(r, reasons, `${path}.reasons[${String(k)}]`) as Reason),
        signature: f.oneOf(e['signature'], standings, `${path}.signature`),
        signedSbom,
      });
    });
    unmatchedPods.push(...f.strings(o['unmatchedPods'], 'unmatchedPods'));
  });
  return {
    audit: { namespace, name: f0.string(first['audit'], 'audit') },
    time: f0.string(first['time'], 'time'),
    images: n('images'),
    signed: n('signed'),
    signedUntrusted: n('signedUntrusted'),
    withSbom: n('withSbom'),
    compliant: n('compliant'),
    nonCompliant: n('nonCompliant'),
    unknown: n('unknown'),
    exempt: n('exempt'),
    compliancePercent: percent,
    entries: entries satisfies ReportEntry[],
    unmatchedPods,
  };
}
