/**
 * What `sigwatch run` is told (its flags, src/cli/run.ts), as the operator
 * process takes it.
 */
import type { AggregatedApiSettings } from './api/aggregated-api.js';
import type { AdmissionSettings } from './admission/admission.js';
import type { Logger } from './kube/logger.js';

export interface OperatorSettings {
  /** Path of a kubeconfig; absent: in-cluster or the default loading rules. */
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly probeAddress: string;
  readonly probePort: number;
  readonly insecureRegistries: readonly string[];
  /** Blob bytes fetched per digest's evidence (default: the registry client's, 16 MiB). */
  readonly maxEvidenceBytes?: number;
  /** dockerconfigjson Secret in the operator namespace with registry credentials. */
  readonly registryCredentialsSecret?: string;
  /** Also use each pod's imagePullSecrets and its service account's (cluster-wide `get` on Secrets). */
  readonly podPullSecrets: boolean;
  readonly kubeQps: number;
  readonly kubeBurst: number;
  readonly identity: string;
  /** This replica's pod, labelled `sigwatch.dev/leader=true` while it leads; absent outside a pod. */
  readonly podName?: string;
  readonly leaderElection: boolean;
  readonly leaseDurationMs: number;
  readonly evictionRetryMs: number;
  /** Alertmanager URLs (prefixes) ImageAudits may notify; empty: none. */
  readonly alertmanagerAllowlist: readonly string[];
  /** Keep a `wgpolicyk8s.io/v1alpha2` PolicyReport per namespace (needs config/policy-reports). */
  readonly policyReports?: boolean;
  /** The aggregated API `inventory.sigwatch.dev` (served by the leader); absent: not served. */
  readonly api?: AggregatedApiSettings;
  /** The admission webhook (every replica answers); absent: not served. */
  readonly webhook?: AdmissionSettings;
  /** Package queries also answer from unsigned `.sbom` attachments (fetched for that: one more request per digest). */
  readonly inventoryUnsignedSboms?: boolean;
  readonly trustRefresh: {
    readonly enabled: boolean;
    readonly mirrorURL?: string;
    readonly staleAfterMs: number;
  };
  readonly logger: Logger;
}
