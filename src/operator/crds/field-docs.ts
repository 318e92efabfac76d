/**
 * One line for every field of the three sigwatch.dev kinds, the one source
 * of their CRD descriptions (`kubectl explain`) and of the README's field
 * tables: ImagePolicy's spec lines live beside its schema
 * (policy/field-docs.ts), its status and the audit kinds' lines here.
 * Defaults come from the tables the readers apply (`policyDefaults`,
 * `auditDefaults`), never typed twice. Path syntax as in
 * policy/field-docs.ts; a unit test fails for a field without a line and
 * for a line that names no field.
 */
import { auditDefaults } from '../../audit/spec.js';
import { auditLimits } from '../audits/report-parts.js';
import {
  defaultAt,
  imagePolicyDefault,
  imagePolicySpecDocs,
  selectorDocs,
  type FieldDocs,
  type KindDocs,
} from '../../policy/field-docs.js';

const conventions = 'https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md';

/**
 * The standard wording of apiVersion and kind. `metadata` has none: the API
 * server refuses a CRD whose schema says anything of metadata but name and
 * generateName (`kubectl explain` shows ObjectMeta's own text there).
 */
const objectDocs: FieldDocs = {
  apiVersion: `APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: ${conventions}#resources`,
  kind: `Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: ${conventions}#types-kinds`,
};

/** metav1.Condition under `path`, as the API conventions word it. */
function conditionDocs(path: string, types: string): Record<string, string> {
  return {
    [path]: `The latest observations of the object's state, one per type: ${types}.`,
    [`${path}[].type`]: 'Type of condition in CamelCase.',
    [`${path}[].status`]: 'Status of the condition, one of True, False, Unknown.',
    [`${path}[].observedGeneration`]: 'The .metadata.generation that the condition was set based upon.',
    [`${path}[].lastTransitionTime`]: 'The last time the condition transitioned from one status to another.',
    [`${path}[].reason`]:
      "A programmatic identifier indicating the reason for the condition's last transition.",
    [`${path}[].message`]: 'A human readable message indicating details about the transition.',
  };
}

const observedGeneration = 'The metadata.generation of the spec this status describes.';

const imagePolicyStatusDocs: FieldDocs = {
  status: 'Written by the leading operator replica through the status subresource; never edited by hand.',
  'status.observedGeneration': observedGeneration,
  ...conditionDocs(
    'status.conditions',
    'Ready (the spec is valid and its keys and trusted roots are loaded), Synced, Degraded (registry errors) and, for a policy that can evict, EvictionsPaused and EvictionLoop',
  ),
  'status.summary': 'Pods the policy selects, each counted once by the worst verdict of its containers.',
  'status.summary.pods': 'Running pods the policy selects.',
  'status.summary.images': 'Distinct image digests those pods run.',
  'status.summary.compliant': 'Pods whose every container is Compliant.',
  'status.summary.nonCompliant':
    'Pods with a NonCompliant container (a stale one included): the pods of violations.',
  'status.summary.unknown': 'Pods with an Unknown container and none NonCompliant: the pods of unknown.',
  'status.summary.exempt': 'Pods with an Exempt container, the others Compliant.',
  'status.violations':
    'The NonCompliant containers of the pods counted nonCompliant, the 50 newest first; never an Unknown reason (those pods are listed under unknown).',
  'status.violations[].namespace': 'The pod’s namespace.',
  'status.violations[].pod': 'The pod’s name.',
  'status.violations[].container': 'The container’s name.',
  'status.violations[].image': 'The image as the pod spec names it.',
  'status.violations[].digest': 'The digest that was judged.',
  'status.violations[].reason':
    'The verdict’s first reason code, always a definite one (SignatureMissing, KeyMismatch, …).',
  'status.violations[].message': 'What failed, in words.',
  'status.violations[].since':
    'When the container was first judged NonCompliant with this digest and reason (never after the first Event about it).',
  'status.violations[].stale':
    'True while the current verdict is Unknown (a registry or an index could not be read): reason and message are the last definite verdict’s.',
  'status.unknown':
    'The Unknown containers of the pods counted unknown (no definite verdict yet, none NonCompliant), the 50 newest first.',
  'status.unknown[].namespace': 'The pod’s namespace.',
  'status.unknown[].pod': 'The pod’s name.',
  'status.unknown[].container': 'The container’s name.',
  'status.unknown[].image': 'The image as the pod spec names it.',
  'status.unknown[].digest': 'The digest that was judged.',
  'status.unknown[].reasons':
    'Why no definite verdict could be reached (RegistryUnavailable, IndexUnresolved, …).',
  'status.unknown[].message': 'What could not be decided, in words.',
  'status.unknown[].since': 'When the container was first judged Unknown with this digest.',
  'status.evictions':
    'This policy’s evictions of the last hour (longer if perOwnerInterval is), each recorded before the Eviction API call; a workload’s newest record stays longer while it marks a loop.',
  'status.evictions[].time': 'When the pod was evicted.',
  'status.evictions[].namespace': 'The pod’s namespace.',
  'status.evictions[].pod': 'The pod’s name.',
  'status.evictions[].owner':
    'Kind/name of the workload (the Deployment for a ReplicaSet’s pod); Pod/<name> for a bare pod.',
  'status.evictions[].predicted':
    'What the replacement was predicted from, for the loop guard: a second eviction of the workload for the same reasons needs another template, tag target or node image.',
  'status.evictions[].predicted.controller':
    'Kind/name of the object whose template creates the replacement (a Deployment’s pod: its ReplicaSet).',
  'status.evictions[].predicted.generation':
    'The version of that object’s pod template when the pod was evicted (a hash of spec.template: a scale does not change it, a template edit does).',
  'status.evictions[].predicted.reasons': 'The reason codes the evicted pod failed with.',
  'status.evictions[].predicted.images': 'Per failing container, what its replacement was predicted to run.',
  'status.evictions[].predicted.images[].container': 'The container’s name.',
  'status.evictions[].predicted.images[].image': 'The image the template names.',
  'status.evictions[].predicted.images[].tagTarget':
    'The digest the tag named in the registry, if it was asked.',
  'status.evictions[].predicted.images[].nodeImage':
    'What the pod’s node held under the tag: a digest, absent, or unlisted (its list of images was full without it).',
  'status.evictions[].loop':
    'Set when a replacement failed again for one of the same reasons: the workload is not evicted again until its template, the tag’s target or the node’s image changes (condition EvictionLoop). Kept past the hour while it holds.',
  'status.evictions[].loop.time': 'When the replacement was seen failing again.',
  'status.evictions[].loop.pod': 'The replacement’s name.',
  'status.evictions[].loop.digest': 'The digest it runs.',
  'status.evictionsPaused':
    'A tripped circuit breaker: evictions stay paused until the annotation sigwatch.dev/confirm-evictions names this generation or a later one.',
  'status.evictionsPaused.reason':
    'TooManyNewViolations (a change turned too many pods NonCompliant) or EvictionsSwitchedOn (evictions were switched on while too many pods were NonCompliant).',
  'status.evictionsPaused.generation':
    'The policy generation when the breaker tripped: a confirmation must name it or a later one.',
  'status.evictionsPaused.since': 'When the breaker tripped.',
  'status.evictionsPaused.newlyNonCompliant':
    'New violations it counted: pods that turned NonCompliant within one noncompliantFor whose workload and digest did too (with EvictionsSwitchedOn: the pods that would be evicted).',
  'status.evictionsPaused.matchedPods': 'Pods the policy selected then.',
  'status.evictionsPaused.maxNewViolationsPercent': 'The threshold in force when it tripped.',
  'status.evictionsPaused.confirmationAtTrip':
    'The value sigwatch.dev/confirm-evictions had when the breaker tripped: it confirmed an earlier trip, not this one.',
  'status.evictionsConfirmed':
    'The confirmation that last lifted the circuit breaker: workloads and digests NonCompliant before it do not count as new violations again, also after a restart.',
  'status.evictionsConfirmed.generation': 'The generation of the trip it lifted.',
  'status.evictionsConfirmed.time': 'When the operator saw the confirmation and lifted the breaker.',
};

export const imagePolicyDocs: KindDocs = {
  fields: {
    '': 'Which running images must be signed, attested and built from what, by whom, and what Sigwatch does about the ones that are not. Cluster-scoped.',
    ...objectDocs,
    ...imagePolicySpecDocs,
    ...imagePolicyStatusDocs,
  },
  defaultOf: imagePolicyDefault,
};

/** The counts of an audit run, in ImageAudit.status.lastResult and ImageAuditReport.summary. */
function auditCountDocs(path: string): Record<string, string> {
  return {
    [`${path}.images`]: 'Image digests judged.',
    [`${path}.signed`]: 'Signed by an authority of a policy that matches the image.',
    [`${path}.signedUntrusted`]: 'Signed, but by no key or identity a matching policy trusts.',
    [`${path}.withSbom`]: 'With a signed SBOM attestation.',
    [`${path}.compliant`]: 'Images that pass every policy matching them.',
    [`${path}.nonCompliant`]: 'Images that fail a policy matching them.',
    [`${path}.unknown`]: 'Images whose verdict could not be decided (a registry could not be read, say).',
    [`${path}.exempt`]: 'Images an unexpired exception covers.',
    [`${path}.compliancePercent`]: '(compliant + exempt) / images × 100, one decimal.',
  };
}

export const imageAuditDocs: KindDocs = {
  fields: {
    '': 'A supply-chain audit of the running images, on a cron schedule, run by the operator; each run stores an ImageAuditReport.',
    ...objectDocs,
    spec: 'When the audit runs, what it judges, how many reports it keeps and whom it notifies.',
    'spec.schedule': 'A cron expression (cron-parser); a sixth leading field means seconds.',
    'spec.timeZone': 'The IANA time zone the schedule is read in.',
    'spec.suspend':
      'Start no scheduled runs; a new value of the annotation sigwatch.dev/run-now still starts one.',
    'spec.policies':
      'The ImagePolicies to apply, by name; with policySelector, those named and selected. Empty, without policySelector: every policy.',
    ...selectorDocs(
      'spec.policySelector',
      'Only ImagePolicies with these labels; a selector that selects none applies none.',
    ),
    ...selectorDocs(
      'spec.namespaceSelector',
      'Only pods in namespaces with these labels; honoured only in the operator’s namespace (an audit elsewhere judges its own namespace only).',
    ),
    'spec.historyLimit': `How many reports and status.history entries are kept (1 to ${String(auditLimits.history)}).`,
    'spec.notify': 'An alert to Alertmanager about the result of each run.',
    'spec.notify.alertmanager':
      'The Alertmanager to post the alert SigwatchAuditNonCompliant to (v2 API); its URL must be under an entry of the operator’s --alertmanager-url-allowlist.',
    'spec.notify.alertmanager.url': 'The Alertmanager’s base URL, http or https.',
    'spec.notify.alertmanager.labels': 'Labels added to the alert’s own.',
    'spec.notify.when':
      'Always: fire or resolve after every run; OnViolation: fire while something is NonCompliant or Unknown, resolve when clean; OnChange: as OnViolation, but re-fire only when the counts change.',
    status: 'Written by the leading operator replica through the status subresource.',
    'status.observedGeneration': observedGeneration,
    ...conditionDocs(
      'status.conditions',
      'Ready (False, with the field path, for a bad cron or time zone), Running, Succeeded, ScopeRestricted, NotificationFailed',
    ),
    'status.lastScheduleTime': 'The scheduled time of the last run, written when it starts.',
    'status.nextScheduleTime': 'The next scheduled time.',
    'status.lastCompletionTime': 'When the last successful run finished.',
    'status.lastRunNow': 'The sigwatch.dev/run-now value last served (its sha256 when longer).',
    'status.lastResult': 'The last successful run.',
    ...auditCountDocs('status.lastResult'),
    'status.lastResult.nonCompliantImages': `The first ${String(auditLimits.listed)} NonCompliant images (the report has all).`,
    'status.lastResult.nonCompliantImages[].image': 'registry/repository@digest',
    'status.lastResult.nonCompliantImages[].reasons': 'Why it is not Compliant (reason codes).',
    'status.lastResult.nonCompliantImages[].pods': `The first ${String(auditLimits.podsPerListed)} pods running it, as namespace/name.`,
    'status.lastResult.unsigned': `The first ${String(auditLimits.listed)} unsigned images, as registry/repository@digest.`,
    'status.lastResult.reportName':
      'The ImageAuditReport in this namespace that holds the whole report (its part 0).',
    'status.history': 'One entry per successful run, newest first, at most historyLimit.',
    'status.history[].time': 'When the run started.',
    'status.history[].compliancePercent': '(compliant + exempt) / images × 100, one decimal.',
    'status.history[].nonCompliant': 'NonCompliant images.',
    'status.alert': 'The Alertmanager alert this audit keeps firing or last resolved.',
    'status.alert.firing': 'Whether the alert is firing (re-posted every minute) or resolved.',
    'status.alert.startsAt': 'When the alert started firing.',
    'status.alert.severity':
      'critical when something is NonCompliant, warning when something is only Unknown.',
    'status.alert.summary': 'The alert’s summary.',
    'status.alert.report': 'The ImageAuditReport the alert names.',
    'status.alert.nonCompliant': 'NonCompliant images when last notified.',
    'status.alert.unknown': 'Unknown images when last notified.',
  },
  defaultOf: (path) => defaultAt(auditDefaults, 'spec.', path),
};

export const imageAuditReportDocs: KindDocs = {
  fields: {
    '': 'The report of one ImageAudit run, or one part of it. Part 0 is named like the report (ImageAudit.status.lastResult.reportName) and carries the summary and the part count; part n is named <report>-<n>. All parts are labelled sigwatch.dev/report=<report> and sigwatch.dev/part=<n>.',
    ...objectDocs,
    audit: 'The ImageAudit (in this namespace) whose run this is.',
    time: 'When the run started.',
    part: 'Which part this is; the same as the label sigwatch.dev/part.',
    parts: 'How many parts the report has. Part 0 only.',
    summary: 'The counts over the whole report. Part 0 only.',
    ...auditCountDocs('summary'),
    'summary.result': 'NonCompliant if any image is, else Unknown if any image is undecided, else Compliant.',
    entries: 'Every judged image: non-compliant first, then unknown, then by name.',
    'entries[].image': 'registry/repository@digest',
    'entries[].continued':
      'This piece continues the entry before it (same image): its lists are the rest of that entry’s. Only entries too large for one part are split.',
    'entries[].verdict': 'Over every policy that matches the image (all must pass).',
    'entries[].reasons': 'Why the verdict is not Compliant (reason codes).',
    'entries[].signature':
      'trusted: signed by an authority of a matching policy; untrusted: signed, but by no key or identity a matching policy trusts; unsigned; unknown: not decided (the registry could not be read).',
    'entries[].signedSbom': 'A signed SBOM attestation was verified.',
    'entries[].policies': 'The ImagePolicies that match the image.',
    'entries[].references': 'How pod specs name the image.',
    'entries[].pods': 'The running pods with the image, as namespace/name.',
    unmatchedPods: 'Running pods no policy selects, as namespace/name.',
  },
  defaultOf: () => undefined,
};

/** Each kind's docs by its name. */
export const kindDocs = {
  ImagePolicy: imagePolicyDocs,
  ImageAudit: imageAuditDocs,
  ImageAuditReport: imageAuditReportDocs,
} as const satisfies Record<string, KindDocs>;
