/**
 * The operator process (`sigwatch run`): watches, evidence store,
 * controller, leader election and the probe/metrics server wired together.
 * Every replica watches (so a new leader starts warm); only the leader talks
 * to registries and writes (design §4.7).
 */
import { RegistryClient } from '../registry/client.js';
import { Controller } from './controller.js';
import { auditWorld, verdictSource } from './views.js';
import { freshEvidence } from './audits/run.js';
import { AuditController } from './audits/controller.js';
import { trimAudit, type WatchedAudit } from './audits/watched-audit.js';
import { EvidenceStore, evidenceKeyString, evidenceNeeds } from './evidence/store.js';
import { startProbeServer } from './kube/http.js';
import { startAggregatedApi, type AggregatedApi } from './api/aggregated-api.js';
import { startAdmission, type RunningAdmission } from './admission/admission.js';
import { webhookCaSecret } from './admission/webhook-certs.js';
import { KubeHttp, RateLimiter } from './kube/client.js';
import { loadKubeConnection } from './kube/connection.js';
import { LeaderElector } from './kube/leader.js';
import { LeaderLabel } from './kube/leader-label.js';
import { OperatorMetrics } from './metrics.js';
import { PodCredentials } from './evidence/pod-credentials.js';
import { PolicyReportWriter } from './policy-reports/writer.js';
import { trimPod } from './pod.js';
import { RelatedDigests } from './evidence/related-digests.js';
import { TrustWatch } from './evidence/trust-watch.js';
import type { OperatorSettings } from './settings.js';
import { trimNamespace, trimPolicy, type WatchedPolicy } from './watched.js';
import { Reflector } from './kube/watch.js';

export interface RunningOperator {
  readonly probePort: number;
  readonly apiPort?: number;
  readonly webhookPort?: number;
  stop(): Promise<void>;
}

export async function startOperator(settings: OperatorSettings): Promise<RunningOperator> {
  const { logger, namespace } = settings;
  const connection = await loadKubeConnection(
    settings.kubeconfig === undefined ? {} : { kubeconfig: settings.kubeconfig },
  );
  const kube = new KubeHttp(
    connection,
    new RateLimiter(settings.kubeQps, settings.kubeBurst),
    `sigwatch (${settings.identity})`,
  );
  const leaderLabel = new LeaderLabel({
    kube,
    namespace,
    podName: settings.podName,
    logger,
    // `mayWrite` is defined below; the label is only written after start-up.
    leading: () => mayWrite(),
  });
  const metrics = new OperatorMetrics();
  // Started once the registry client exists; the Secret watch hands it the webhook CA from then on.
  let admission: RunningAdmission | undefined;
  const trust = new TrustWatch({
    connection,
    namespace,
    logger,
    ...(settings.registryCredentialsSecret === undefined
      ? {}
      : { registryCredentialsSecret: settings.registryCredentialsSecret }),
    refresh: settings.trustRefresh,
    onChange: (material) => {
      controller.setTrust(material);
    },
    onSecret: (name, data) => {
      if (name === webhookCaSecret) admission?.secretChanged(data);
    },
  });
  metrics.setTrustRootAge(settings.trustRefresh.enabled ? () => trust.ageSeconds() : undefined);

  let leader: LeaderElector | undefined;
  const isLeader = (): boolean => !settings.leaderElection || (leader?.isLeader() ?? false);
  // Writes need the lease with time to spare: a write just before losing it could race the next leader.
  const mayWrite = (): boolean =>
    !settings.leaderElection || (leader?.holdsLeaseFor(settings.leaseDurationMs / 3) ?? false);

  const reports =
    settings.policyReports === true
      ? new PolicyReportWriter({ kube, logger, mayWrite, settled: () => controller.idle() })
      : undefined;
  const controller: Controller = new Controller({
    ...(reports === undefined
      ? {}
      : {
          onResults: (key, pod, results, complete) => {
            reports.setPod(key, pod, results, complete);
          },
        }),
    kube,
    logger,
    operatorNamespace: namespace,
    mayWrite,
    metrics,
    // Before an eviction, which cannot be undone: the API server must still name us.
    confirmLease: () =>
      settings.leaderElection
        ? (leader?.confirm(settings.leaseDurationMs / 3) ?? Promise.resolve(false))
        : Promise.resolve(true),
    evictionRetryMs: settings.evictionRetryMs,
    unsignedSboms: settings.inventoryUnsignedSboms === true,
  });
  const podCredentials = settings.podPullSecrets
    ? new PodCredentials({ kube, logger, active: () => isLeader() })
    : undefined;
  // Quiet pods have no watch events: re-note them so their secrets are re-read (by TTL) and never forgotten.
  const renotePods = (): void => {
    if (podCredentials !== undefined) for (const p of pods.list()) podCredentials.notePod(p);
  };
  const renoteTimer = setInterval(renotePods, 60_000);
  renoteTimer.unref();
  await trust.start();

  const registry = new RegistryClient({
    observe: ({ registry, status, seconds }) => {
      metrics.recordRegistryRequest(registry, status, seconds);
    },
    plainHttpRegistries: settings.insecureRegistries,
    ...(settings.maxEvidenceBytes === undefined
      ? {}
      : { limits: { maxEvidenceBytes: settings.maxEvidenceBytes } }),
    // The operator's own Secret first: it is what an administrator configured on purpose.
    credentials: () =>
      podCredentials === undefined
        ? trust.credentials()
        : [...trust.credentials(), ...podCredentials.entries()],
  });
  const store = new EvidenceStore({
    client: registry,
    logger,
    active: isLeader,
    onLookup: (hit) => {
      if (hit) metrics.cacheHit();
      else metrics.cacheMiss();
    },
    onChange: (id) => {
      controller.evidenceChanged(id);
    },
  });
  controller.attachStore(store);
  const related = new RelatedDigests({
    client: registry,
    logger,
    active: isLeader,
    onResolved: (waiters) => {
      controller.requeue(waiters);
    },
    alive: (key) => controller.hasPod(key),
  });
  controller.attachRelated(related);

  const fetchNow = freshEvidence(registry, () => AbortSignal.timeout(120_000));
  const audits = new AuditController({
    kube,
    logger,
    operatorNamespace: namespace,
    mayWrite,
    world: () => auditWorld(controller, namespace),
    // Evidence fetched in the last 10 minutes is reused (design §2) if it looked everywhere the audit's
    // policies need; anything older, or fetched for other needs, is fetched now.
    evidence: (key, matching) =>
      Promise.resolve(
        store.recent(evidenceKeyString(key), 600_000, evidenceNeeds(matching, false)) ??
          fetchNow(key, matching),
      ),
    metrics,
    alertmanagerAllowlist: settings.alertmanagerAllowlist,
  });
  const imageAudits = new Reflector<WatchedAudit>({
    connection,
    path: '/apis/sigwatch.dev/v1alpha1/imageaudits',
    trim: trimAudit,
    logger,
    onEvent: (type, key, obj) => {
      if (type === 'SYNC') return;
      if (type === 'DELETED' || obj === undefined) audits.delete(key);
      else audits.upsert(obj);
    },
  });
  const policies = new Reflector<WatchedPolicy>({
    connection,
    path: '/apis/sigwatch.dev/v1alpha1/imagepolicies',
    trim: trimPolicy,
    key: (p) => p.source.name,
    logger,
    onEvent: (type, key, obj) => {
      if (type === 'SYNC') return;
      if (type === 'DELETED' || obj === undefined) controller.deletePolicy(key);
      else controller.upsertPolicy(obj.source, obj.persisted, obj.labels, obj.stored);
    },
  });
  const namespaces = new Reflector<{ name: string; labels: Record<string, string> }>({
    connection,
    path: '/api/v1/namespaces',
    trim: trimNamespace,
    key: (n) => n.name,
    logger,
    onEvent: (type, key, obj) => {
      if (type === 'SYNC') return;
      controller.setNamespace(key, type === 'DELETED' ? undefined : obj?.labels);
    },
  });
  const pods = new Reflector({
    connection,
    path: '/api/v1/pods',
    trim: trimPod,
    logger,
    onEvent: (type, key, obj) => {
      if (type === 'SYNC') return;
      if (type === 'DELETED' || obj === undefined) controller.deletePod(key);
      else {
        podCredentials?.notePod(obj);
        controller.upsertPod(obj);
      }
    },
  });
  await Promise.all([policies.start(), namespaces.start()]);
  await pods.start();
  // After the pods: a run caught up at start-up must see every pod.
  await imageAudits.start();

  const api: AggregatedApi | undefined =
    settings.api === undefined
      ? undefined
      : await startAggregatedApi(settings.api, {
          connection,
          userAgent: `sigwatch (${settings.identity})`,
          isLeader: mayWrite,
          source: verdictSource(controller),
          logger,
        });

  if (settings.webhook !== undefined) {
    admission = await startAdmission(settings.webhook, {
      kube,
      logger,
      operatorNamespace: namespace,
      leading: mayWrite,
      policies: () => controller.compiledPolicies(),
      namespaceLabels: (name) => controller.namespaceLabels(name),
      registry,
      recent: (id, maxAgeMs, needs) => store.recent(id, maxAgeMs, needs),
      evaluate: (evidence, policy, now) => controller.evaluate(evidence, policy, now),
      ...(podCredentials === undefined ? {} : { credentials: podCredentials }),
      metrics,
    });
    admission.secretChanged(trust.secret(webhookCaSecret)?.data);
  }

  if (settings.leaderElection) {
    leader = new LeaderElector({
      // Its own client: lease renewals must never queue behind the write limit of label and status writes.
      kube: new KubeHttp(connection, undefined, `sigwatch (${settings.identity})`),
      namespace,
      name: 'sigwatch-leader',
      identity: settings.identity,
      leaseDurationMs: settings.leaseDurationMs,
      renewDeadlineMs: (settings.leaseDurationMs * 2) / 3,
      retryPeriodMs: settings.leaseDurationMs / 7.5,
      logger,
      onStartedLeading: () => {
        metrics.setLeader(true);
        logger.info('leading', { identity: settings.identity });
        store.refreshAll();
        renotePods();
        controller.resync();
        audits.resync();
        reports?.resync();
        void leaderLabel.lead();
        api?.lead();
      },
      onStoppedLeading: () => {
        metrics.setLeader(false);
        void leaderLabel.follow();
        logger.info('stopped leading', { identity: settings.identity });
      },
    });
    // A restarted container keeps its pod's labels: drop a leftover mark before campaigning.
    await leaderLabel.follow();
    leader.start();
  } else {
    metrics.setLeader(true);
    void leaderLabel.lead();
    api?.lead();
    reports?.resync();
  }

  const watches = [trust, policies, namespaces, pods, imageAudits];
  const server = await startProbeServer({
    host: settings.probeAddress,
    port: settings.probePort,
    metrics,
    isHealthy: () => true,
    isReady: () => {
      if (!watches.every((w) => w.hasSynced())) return 'watches not synced';
      // Until its certificate is one the API server trusts, the webhook Service must not pick this replica.
      if (admission !== undefined && !admission.ready()) return 'webhook certificate not loaded';
      return true;
    },
    logger,
  });
  logger.info('sigwatch running', {
    namespace,
    probePort: server.port,
    ...(api === undefined ? {} : { apiPort: api.port }),
    ...(admission === undefined ? {} : { webhookPort: admission.port }),
    identity: settings.identity,
  });

  return {
    probePort: server.port,
    ...(api === undefined ? {} : { apiPort: api.port }),
    ...(admission === undefined ? {} : { webhookPort: admission.port }),
    async stop(): Promise<void> {
      // Admission first, while everything it judges with still runs: unready, drained, closed.
      await admission?.stop();
      clearInterval(renoteTimer);
      for (const w of watches) w.stop();
      controller.stop();
      reports?.stop();
      audits.stop();
      store.stop();
      related.stop();
      await leader?.stop();
      if (leader === undefined) void leaderLabel.follow();
      await leaderLabel.idle();
      await server.close();
      await api?.stop();
      await registry.close();
    },
  };
}
