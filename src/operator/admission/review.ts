/**
 * AdmissionReview v1 in and out (issue 17): the request read defensively
 * (the body is hostile until proven otherwise — the webhook port is open to
 * the cluster), the decision turned into kubectl's words: a refusal names
 * each image, its verdict and reasons; Audit findings and Unknown verdicts a
 * policy allows become `warnings`, which kubectl prints; pinning is a JSON
 * Patch replacing each judged tag with its digest.
 */
import type { Digest } from '../../base/digest.js';
import { AdmissionError } from './errors.js';
import { parseReference } from '../../registry/reference.js';
import type { AdmissionDecision, ImageResult } from './judge.js';
import type { PodTemplate, TemplateContainer } from './workloads.js';
import { asObject as obj } from '../../base/json.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind: { readonly group: string; readonly version: string; readonly kind: string };
  readonly subResource: string | undefined;
  readonly namespace: string;
  readonly operation: Operation;
  readonly dryRun: boolean;
  readonly object: unknown;
  readonly oldObject: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const badReview = (message: string): AdmissionError => new AdmissionError('BadReview', message);

/** The request of an `admission.k8s.io/v1` AdmissionReview. @throws AdmissionError `BadReview` */
export function readReview(body: unknown): AdmissionRequest {
  const review = obj(body);
  if (review?.['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview')
    throw badReview('expected an admission.k8s.io/v1 AdmissionReview');
  const request = obj(review['request']);
  const uid = str(request?.['uid']);
  const kind = obj(request?.['kind']);
  const group = str(kind?.['group']);
  const version = str(kind?.['version']);
  const kindName = str(kind?.['kind']);
  const operation = str(request?.['operation']);
  if (request === undefined || uid === undefined || uid === '' || uid.length > 128)
    throw badReview('the AdmissionReview has no request uid');
  if (group === undefined || version === undefined || kindName === undefined)
    throw badReview('the AdmissionReview request has no kind');
  if (operation !== 'CREATE' && operation !== 'UPDATE' && operation !== 'DELETE' && operation !== 'CONNECT')
    throw badReview('the AdmissionReview request has no known operation');
  const sub = str(request['subResource']);
  return {
    uid,
    kind: { group, version, kind: kindName },
    subResource: sub === undefined || sub === '' ? undefined : sub,
    namespace: str(request['namespace']) ?? '',
    operation,
    dryRun: request['dryRun'] === true,
    object: request['object'],
    oldObject: request['oldObject'],
  };
}

/**
 * The containers an update must have judged: each whose image is not the
 * one the same container (kind and name) had before, and each new one
 * (scaling a Deployment whose image a policy now refuses must still work —
 * that image is the runtime's business; an image moved from an init
 * container into the app containers is judged again).
 */
export function changedContainers(
  template: PodTemplate,
  old: PodTemplate | undefined,
): readonly TemplateContainer[] {
  if (old === undefined) return template.containers;
  const before = new Map(old.containers.map((c) => [`${c.kind}/${c.name}`, c.image]));
  return template.containers.filter((c) => before.get(`${c.kind}/${c.name}`) !== c.image);
}

/** kubectl prints each warning; the API server cuts them at 256 characters and drops them past 4 KiB in all. */
const maxWarning = 256;
const maxWarnings = 12;
const maxMessage = 2048;

const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function describe(r: ImageResult): string {
  const digest = r.digest === undefined || r.image.includes('@') ? '' : ` (${r.digest.slice(0, 19)}…)`;
  const reasons = r.reasons.length === 0 ? '' : ` ${r.reasons.join(', ')}`;
  return `${r.image}${digest} is ${r.verdict} under ImagePolicy ${r.policy}:${reasons}${r.message === '' ? '' : ` — ${r.message}`}`;
}

export interface ReviewAnswer {
  readonly allowed: boolean;
  readonly message?: string;
  readonly warnings: readonly string[];
  readonly patch?: readonly { op: 'replace'; path: string; value: string }[];
}

/** The answer to a validation: refused with every Deny named, or admitted with warnings. */
export function validationAnswer(decision: AdmissionDecision): ReviewAnswer {
  const denied = decision.results.filter((r) => r.effect === 'Deny');
  const warned = decision.results.filter((r) => r.effect === 'Warn');
  const warnings = [...warned.map(describe), ...decision.notes];
  const shown = warnings.slice(0, maxWarnings).map((w) => cut(w, maxWarning));
  if (warnings.length > maxWarnings) shown.push(`(and ${String(warnings.length - maxWarnings)} more)`);
  if (decision.allowed) return { allowed: true, warnings: shown };
  const message = `Sigwatch refused ${String(denied.length)} image verdict${denied.length === 1 ? '' : 's'}: ${denied.map(describe).join('; ')}`;
  return { allowed: false, message: cut(message, maxMessage), warnings: shown };
}

/**
 * The JSON Patch pinning each container whose tag was resolved: the image
 * as written, its tag replaced by `@digest` (`app:v1` → `app@sha256:…`), so
 * the digest that runs is the digest the validating webhook then judges.
 */
export function pinPatch(
  containers: readonly TemplateContainer[],
  resolved: ReadonlyMap<string, Digest>,
): { op: 'replace'; path: string; value: string }[] {
  const ops: { op: 'replace'; path: string; value: string }[] = [];
  for (const c of containers) {
    const digest = resolved.get(c.image);
    if (digest === undefined || c.image.includes('@')) continue;
    const ref = parseReference(c.image);
    const written = c.image.endsWith(`:${ref.tag ?? ''}`)
      ? c.image.slice(0, c.image.length - (ref.tag ?? '').length - 1)
      : c.image;
    ops.push({ op: 'replace', path: c.pointer, value: `${written}@${digest}` });
  }
  return ops;
}

/** The AdmissionReview to send back. */
export function reviewResponse(uid: string, answer: ReviewAnswer): object {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: answer.allowed,
      ...(answer.allowed
        ? {}
        : { status: { code: 403, reason: 'Forbidden', message: answer.message ?? 'refused by Sigwatch' } }),
      ...(answer.warnings.length === 0 ? {} : { warnings: answer.warnings }),
      ...(answer.patch === undefined || answer.patch.length === 0
        ? {}
        : { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(answer.patch)).toString('base64') }),
    },
  };
}
