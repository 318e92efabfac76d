/**
 * Audit reports of a chosen size without running an audit: what a cluster of
 * that many pods and images would produce (buildReport, the real counting),
 * with deterministic names so a failure names the same image every run.
 */
import { createHash } from 'node:crypto';
import { buildReport, type AuditReport, type JudgedImage } from '../../src/audit/report.js';
import type { PolicyVerdict } from '../../src/policy/verdict.js';

const hex = (s: string): string => createHash('sha256').update(s).digest('hex');

const unsigned: PolicyVerdict = {
  policy: 'prod-images',
  verdict: 'NonCompliant',
  reasons: ['SignatureMissing', 'SbomMissing'],
  findings: [],
  signers: [],
};
const signed: PolicyVerdict = {
  policy: 'prod-images',
  verdict: 'Compliant',
  reasons: [],
  findings: [],
  signers: [{ authority: 'release-key', format: 'bundle' }],
};

/** One image run by `pods` pods (`<ns>/<deployment>-<hash>-<n>`); every third one is signed. */
export function image(i: number, pods: number): JudgedImage {
  const repo = `registry.example.com/team-${String(i % 40)}/service-${String(i)}`;
  return {
    image: `${repo}@sha256:${hex(repo)}`,
    references: [`${repo}:1.${String(i % 17)}.0`],
    pods: Array.from(
      { length: pods },
      (_, p) =>
        `team-${String(i % 40)}/service-${String(i)}-7d9f8c6b5d-${hex(`${String(i)}/${String(p)}`).slice(0, 5)}`,
    ),
    verdicts: [i % 3 === 0 ? signed : unsigned],
    signedSbom: i % 3 === 0,
  };
}

/** A report of `images` images with `podsPerImage` pods each, plus `extra` images and `unmatched` pods. */
export function syntheticReport(o: {
  readonly namespace: string;
  readonly name: string;
  readonly images: number;
  readonly podsPerImage: number;
  readonly extra?: readonly JudgedImage[];
  readonly unmatched?: number;
  readonly time?: Date;
}): AuditReport {
  return buildReport({
    audit: { namespace: o.namespace, name: o.name },
    time: o.time ?? new Date('2026-12-05T06:00:00Z'),
    images: [...Array.from({ length: o.images }, (_, i) => image(i, o.podsPerImage)), ...(o.extra ?? [])],
    unmatchedPods: Array.from({ length: o.unmatched ?? 0 }, (_, i) => `default/stranger-${String(i)}`),
  });
}

/** What a report looks like after a trip through JSON (an API server), for deep equality. */
export function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
