/**
 * Admission wired together for the operator (issue 17): the HTTPS endpoint,
 * its certificates (minted from the shared webhook CA, or mounted files from
 * cert-manager), and the handler that reads each AdmissionReview, judges
 * what it must and answers. Every replica runs it; nothing here writes
 * except the leader's CA upkeep and the refusal Events each replica
 * records for the requests it answers (rate-limited).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pLimit from 'p-limit';
import { untilAborted } from '../../base/deadline.js';
import type { Digest } from '../../base/digest.js';
import type { CompiledPolicy, ReadyPolicy } from '../../policy/compile.js';
import type { PolicyVerdict } from '../../policy/verdict.js';
import type { RegistryClient } from '../../registry/client.js';
import type { Evidence } from '../../registry/evidence.js';
import { parseReference } from '../../registry/reference.js';
import type { EvidenceNeeds } from '../evidence/store.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import type { OperatorMetrics } from '../metrics.js';
import type { PodCredentials } from '../evidence/pod-credentials.js';
import { systemNamespaces } from '../verdicts/scope.js';
import { mintServingCert } from '../tls/serving-cert.js';
import { AdmissionEvidence } from './evidence.js';
import {
  admittingPolicies,
  decide,
  policyMatchesImage,
  type AdmissionDecision,
  type ImageJudge,
} from './judge.js';
import { RefusalEvents } from './refusal-events.js';
import {
  changedContainers,
  pinPatch,
  readReview,
  reviewResponse,
  validationAnswer,
  type AdmissionRequest,
  type ReviewAnswer,
} from './review.js';
import { WebhookCertificates } from './webhook-certs.js';
import { startWebhookServer, type WebhookOperation } from './webhook-server.js';
import { AdmissionError } from './errors.js';
import { podTemplate, type PodTemplate } from './workloads.js';

export interface AdmissionSettings {
  readonly address: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** Mounted PEM files (cert-manager's CA injector fills the caBundle); absent: the shared webhook CA. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** The serving certificate's DNS names (`<service>.<namespace>.svc` first). */
  readonly dnsNames: readonly string[];
  /** Name of both webhook configurations whose caBundle the leader keeps. */
  readonly configuration: string;
}

export interface AdmissionDeps {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly operatorNamespace: string;
  /** Holds the lease with time to spare: CA upkeep and Events only then. */
  readonly leading: () => boolean;
  readonly policies: () => readonly CompiledPolicy[];
  /** Labels of a namespace the watch has seen; undefined: not (yet) seen. */
  readonly namespaceLabels: (name: string) => Readonly<Record<string, string>> | undefined;
  readonly registry: RegistryClient;
  /** The evidence store's complete evidence for a running digest (the leader's memory). */
  readonly recent: (id: string, maxAgeMs: number, needs: EvidenceNeeds) => Evidence | undefined;
  /** The controller's evaluator: a digest it judged is answered from its memo. */
  readonly evaluate: (evidence: Evidence, policy: ReadyPolicy, now: Date) => PolicyVerdict;
  readonly credentials?: PodCredentials;
  readonly metrics?: OperatorMetrics;
}

export interface RunningAdmission {
  readonly port: number;
  /** Whether this replica serves a certificate the API server trusts. */
  ready(): boolean;
  /** The webhook CA Secret as the operator's Secret watch saw it. */
  secretChanged(data: Readonly<Record<string, string>> | undefined): void;
  stop(): Promise<void>;
}

/** Answered within the webhook's 10 s timeoutSeconds, with room for the network. */
const deadlineMs = 8_000;

/** How long a stopping replica keeps serving, unready, before it closes its port (endpoints catch up). */
const drainMs = 3_000;

export async function startAdmission(
  settings: AdmissionSettings,
  deps: AdmissionDeps,
): Promise<RunningAdmission> {
  const { logger } = deps;
  const evidence = new AdmissionEvidence({ client: deps.registry, recent: deps.recent });
  const judge: ImageJudge = {
    resolve: (ref, signal) => evidence.resolve(ref, signal),
    platformsOf: (key, signal) => evidence.platformsOf(key, signal),
    evidence: (key, policies, signal) => evidence.evidence(key, policies, signal),
    evaluate: deps.evaluate,
  };
  // Every replica records the refusals it answers (the Service spreads requests over all of them).
  const events = new RefusalEvents({ kube: deps.kube, logger });

  const namespaceLabels = async (
    name: string,
    signal: AbortSignal,
  ): Promise<Readonly<Record<string, string>> | undefined> => {
    const known = deps.namespaceLabels(name);
    if (known !== undefined) return known;
    // Created a moment ago, before the watch saw it: a selector must not miss it (that would admit).
    const ns = (await deps.kube.getOptional(
      `/api/v1/namespaces/${encodeURIComponent(name)}`,
      5_000,
      signal,
    )) as { metadata?: { labels?: Record<string, unknown> } } | undefined;
    if (ns === undefined) return undefined;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(ns.metadata?.labels ?? {})) if (typeof v === 'string') labels[k] = v;
    return labels;
  };

  /** The template to judge, or why nothing is judged. */
  const templateOf = (req: AdmissionRequest): PodTemplate | undefined => {
    if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return undefined;
    const ephemeral = req.kind.kind === 'Pod' && req.subResource === 'ephemeralcontainers';
    if (req.subResource !== undefined && !ephemeral) return undefined; // status, scale…: no image changes
    // Its own pods are never judged by itself, nor the system's (the configuration leaves them out too).
    if (req.namespace === deps.operatorNamespace || systemNamespaces.has(req.namespace)) return undefined;
    return podTemplate(req.kind, req.namespace, req.object);
  };

  const validate = async (
    req: AdmissionRequest,
    signal: AbortSignal,
  ): Promise<{ answer: ReviewAnswer; decision?: AdmissionDecision }> => {
    let template: PodTemplate | undefined;
    try {
      template = templateOf(req);
    } catch (error: unknown) {
      if (error instanceof AdmissionError && error.code === 'TooManyContainers')
        return { answer: { allowed: false, message: `Sigwatch refused: ${error.message}`, warnings: [] } };
      throw error;
    }
    if (template === undefined) return { answer: { allowed: true, warnings: [] } };
    let old: PodTemplate | undefined;
    try {
      old = req.operation === 'UPDATE' ? podTemplate(req.kind, req.namespace, req.oldObject) : undefined;
    } catch {
      old = undefined; // an old object too big to walk: judge every container of the new one
    }
    const containers = changedContainers(template, old);
    if (containers.length === 0) return { answer: { allowed: true, warnings: [] } };
    const world = {
      policies: deps.policies(),
      operatorNamespace: deps.operatorNamespace,
      namespaceLabels: await namespaceLabels(req.namespace, signal),
    };
    // Pull secrets are read only for an image a policy judges (a request is anyone's to write).
    const judging = admittingPolicies(template, world).policies;
    if (
      deps.credentials !== undefined &&
      containers.some((c) => judging.some((p) => policyMatchesImage(p, c.image)))
    )
      await untilAborted(deps.credentials.readFor(template), signal).catch(() => undefined);
    const decision = await decide({ template, containers, world, judge, now: new Date(), signal });
    const answer = validationAnswer(decision);
    if (!answer.allowed && !req.dryRun) events.refused(template, decision);
    return { answer, decision };
  };

  /** Pods only, at creation: each tag a pinning policy matches becomes the digest it names now. */
  const mutate = async (req: AdmissionRequest, signal: AbortSignal): Promise<ReviewAnswer> => {
    if (
      req.kind.kind !== 'Pod' ||
      req.kind.group !== '' ||
      req.operation !== 'CREATE' ||
      req.subResource !== undefined
    )
      return { allowed: true, warnings: [] };
    let template: PodTemplate | undefined;
    try {
      template = templateOf(req);
    } catch {
      return { allowed: true, warnings: [] }; // the validating webhook refuses it
    }
    if (template === undefined) return { allowed: true, warnings: [] };
    const world = {
      policies: deps.policies(),
      operatorNamespace: deps.operatorNamespace,
      namespaceLabels: await namespaceLabels(req.namespace, signal),
    };
    const pinning = admittingPolicies(template, world).policies.filter((p) => p.spec.admission.pinDigests);
    const wanted = template.containers.filter(
      (c) => !c.image.includes('@') && pinning.some((p) => policyMatchesImage(p, c.image)),
    );
    if (wanted.length === 0) return { allowed: true, warnings: [] };
    if (deps.credentials !== undefined)
      await untilAborted(deps.credentials.readFor(template), signal).catch(() => undefined);
    const resolved = new Map<string, Digest>();
    const limit = pLimit(8);
    await Promise.all(
      [...new Set(wanted.map((c) => c.image))].map(async (image) =>
        limit(async () => {
          try {
            const digest = await judge.resolve(parseReference(image), signal);
            if (digest !== undefined) resolved.set(image, digest);
          } catch {
            // Left as written: the validating webhook judges the tag and the policy's onUnknown decides.
          }
        }),
      ),
    );
    return { allowed: true, warnings: [], patch: pinPatch(wanted, resolved) };
  };

  const handle = async (operation: WebhookOperation, body: unknown): Promise<object> => {
    const started = performance.now();
    const req = readReview(body);
    // A timer cleared with the answer (AbortSignal.timeout's would fire 8 s later for every request).
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort(new DOMException('the admission deadline passed', 'TimeoutError'));
    }, deadlineMs);
    const signal = deadline.signal;
    const decisions = new Map<string, 'Allow' | 'Warn' | 'Deny'>();
    let answer: ReviewAnswer;
    try {
      if (operation === 'validate') {
        const v = await validate(req, signal);
        answer = v.answer;
        for (const r of v.decision?.results ?? []) {
          const before = decisions.get(r.policy);
          if (before === 'Deny' || (before === 'Warn' && r.effect === 'Allow')) continue;
          decisions.set(r.policy, r.effect);
        }
      } else {
        answer = await mutate(req, signal);
      }
    } finally {
      clearTimeout(timer);
    }
    deps.metrics?.recordAdmission(operation, decisions, (performance.now() - started) / 1000);
    return reviewResponse(req.uid, answer);
  };

  // Until a certificate the API server trusts is loaded, one nobody trusts: the port is known at
  // start-up, readiness stays false, and the Service sends nothing here.
  const placeholder = mintServingCert(['sigwatch-webhook.invalid'], new Date(), 1);
  const mounted = settings.tls;
  const load = (): { certPem: string; keyPem: string } | undefined =>
    mounted === undefined
      ? undefined
      : { certPem: readFileSync(mounted.certFile, 'utf8'), keyPem: readFileSync(mounted.keyFile, 'utf8') };
  const initial = load();
  const server = await startWebhookServer({
    host: settings.address,
    port: settings.port,
    tls: initial ?? placeholder,
    handle,
    logger,
  });
  const mountedExpiry = (tls: { certPem: string }): void => {
    deps.metrics?.setWebhookCertificateExpiry(new Date(new X509Certificate(tls.certPem).validTo));
  };
  if (initial !== undefined) mountedExpiry(initial);
  let ready = mounted !== undefined;
  const certificates =
    mounted === undefined
      ? new WebhookCertificates({
          kube: deps.kube,
          logger,
          namespace: deps.operatorNamespace,
          dnsNames: settings.dnsNames,
          configuration: settings.configuration,
          leading: deps.leading,
          onCertificate: (cert) => {
            server.update(cert);
            deps.metrics?.setWebhookCertificateExpiry(cert.notAfter);
            ready = true;
          },
        })
      : undefined;
  certificates?.start();
  // cert-manager renews mounted files in place: re-read hourly.
  const reload =
    mounted === undefined
      ? undefined
      : setInterval(() => {
          try {
            const tls = load();
            if (tls !== undefined) {
              server.update(tls);
              mountedExpiry(tls);
            }
          } catch (error: unknown) {
            logger.warn('reloading the webhook certificate failed', { error: String(error) });
          }
        }, 3_600_000);
  reload?.unref();

  return {
    port: server.port,
    ready: () => ready,
    secretChanged: (data) => {
      certificates?.secretChanged(data);
    },
    async stop(): Promise<void> {
      clearInterval(reload);
      certificates?.stop();
      // Unready first, and a moment for the Service to stop sending new connections here; then the
      // requests under way finish (a request cut off is refused by failurePolicy Fail).
      ready = false;
      await new Promise((r) => setTimeout(r, drainMs));
      await server.close(deadlineMs);
    },
  };
}
