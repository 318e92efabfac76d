/**
 * `sigwatch run`: the operator. Flags have environment fallbacks
 * (`SIGWATCH_<FLAG>`, and `POD_NAMESPACE` / `POD_NAME` from the downward
 * API) so a Deployment can configure it either way. Runs until SIGTERM or
 * SIGINT, then stops watches, releases the lease and exits 0.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Command, Option } from 'commander';
import { CliError } from '../base/errors.js';
import { parseDuration } from '../policy/duration.js';
import type { LogLevel } from '../operator/kube/logger.js';
import type { CommandContext } from './context.js';
import { parseByteSize, repeatable } from './flags.js';

interface RunFlags {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly probeAddress: string;
  readonly probePort: string;
  readonly insecureRegistry: string[];
  readonly registryCredentialsSecret?: string;
  readonly podPullSecrets: boolean;
  readonly kubeQps: string;
  readonly kubeBurst: string;
  readonly leaderElection: boolean;
  readonly leaseDuration: string;
  readonly logLevel: LogLevel;
  readonly logFormat: 'json' | 'text';
  readonly identity?: string;
  readonly trustRefresh: 'on' | 'off';
  readonly tufMirror?: string;
  readonly trustStaleAfter: string;
  readonly evictionRetryInterval: string;
  readonly apiAddress: string;
  readonly apiPort: string;
  readonly apiTlsCert?: string;
  readonly apiTlsKey?: string;
  readonly apiService: string;
  readonly inventoryUnsignedSboms: boolean;
  readonly webhookAddress: string;
  readonly webhookPort: string;
  readonly webhookTlsCert?: string;
  readonly webhookTlsKey?: string;
  readonly webhookService: string;
  readonly webhookConfiguration: string;
  readonly webhookDnsName: string[];
  readonly alertmanagerUrlAllowlist: string[];
  readonly maxEvidenceBytes: string;
  readonly policyReports: boolean;
}

/** Mirrors operator/logger.ts `logLevels`; kept here so the CLI does not load winston for other commands. */
const logLevels: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

const usage = (message: string): CliError => new CliError('UsageError', message);

function positive(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max)
    throw usage(`${flag} must be a number in (0, ${String(max)}]`);
  return n;
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string): void => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      resolve(signal);
    };
    const onTerm = (): void => {
      done('SIGTERM');
    };
    const onInt = (): void => {
      done('SIGINT');
    };
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
}

/**
 * The values of Kubernetes' Docker-style Service link variables: for every
 * Service in the pod's namespace the kubelet injects `<NAME>_PORT=tcp://IP:PORT`,
 * `<NAME>_PORT_<N>_TCP=…` and `<NAME>_SERVICE_HOST=…` unless the pod sets
 * `enableServiceLinks: false`. A Service named `sigwatch-api` would thus set
 * `SIGWATCH_API_PORT=tcp://10.0.0.5:443`, the name of our `--api-port`
 * fallback. No flag of ours takes such a value.
 */
const serviceLinkValue = /^(tcp|udp|sctp):\/\//;

/**
 * The environment as the flag defaults read it: `env` without the `SIGWATCH_*`
 * variables whose value is a Service link (above), so a user's Service named
 * `sigwatch-…` cannot stop the operator from starting or set a flag. The install
 * turns Service links off too; this keeps a hand-written Deployment safe.
 */
export function flagEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(
      ([name, value]) =>
        !(name.startsWith('SIGWATCH_') && value !== undefined && serviceLinkValue.test(value)),
    ),
  );
}

/** `sigwatch run`; `environment` (default: this process's) supplies the flag fallbacks. */
export function runCommand(context: CommandContext, environment: NodeJS.ProcessEnv = process.env): Command {
  const env = flagEnvironment(environment);
  return new Command('run')
    .description('run the operator (watches pods and ImagePolicies; labels, status and metrics)')
    .option(
      '--kubeconfig <file>',
      'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)',
      env['KUBECONFIG'],
    )
    .option(
      '--namespace <ns>',
      "the operator's namespace (Secrets, ConfigMaps, Lease)",
      env['POD_NAMESPACE'] ?? 'sigwatch-system',
    )
    .option(
      '--probe-address <addr>',
      'listen address of /metrics, /healthz, /readyz',
      env['SIGWATCH_PROBE_ADDRESS'] ?? '0.0.0.0',
    )
    .option(
      '--probe-port <port>',
      'port of /metrics, /healthz, /readyz (0: any free port)',
      env['SIGWATCH_PROBE_PORT'] ?? '8081',
    )
    .option('--insecure-registry <host>', 'speak plain HTTP to this registry (repeatable)', repeatable, [])
    .option(
      '--registry-credentials-secret <name>',
      'dockerconfigjson Secret in the operator namespace with registry credentials',
      env['SIGWATCH_REGISTRY_CREDENTIALS_SECRET'],
    )
    .option(
      '--pod-pull-secrets',
      "also use each pod's imagePullSecrets and its service account's (needs cluster-wide get on Secrets and ServiceAccounts)",
      env['SIGWATCH_POD_PULL_SECRETS'] === 'true',
    )
    .option('--kube-qps <n>', 'API write rate limit (requests per second)', env['SIGWATCH_KUBE_QPS'] ?? '20')
    .option('--kube-burst <n>', 'API write burst', env['SIGWATCH_KUBE_BURST'] ?? '40')
    .option('--no-leader-election', 'run as the only replica (no Lease)')
    .option('--lease-duration <duration>', 'leader lease duration', env['SIGWATCH_LEASE_DURATION'] ?? '15s')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(logLevels)
        .default(env['SIGWATCH_LOG_LEVEL'] ?? 'info'),
    )
    .addOption(new Option('--log-format <format>', 'log format').choices(['json', 'text']).default('json'))
    .option(
      '--identity <id>',
      'leader-election identity (default: $POD_NAME or the host name, plus a random suffix)',
    )
    .addOption(
      new Option(
        '--trust-refresh <on|off>',
        'refresh the public-good trusted root over TUF every 24 h (off: air-gapped)',
      )
        .choices(['on', 'off'])
        .default(env['SIGWATCH_TRUST_REFRESH'] ?? 'on'),
    )
    .option('--tuf-mirror <url>', 'TUF repository of the public-good root', env['SIGWATCH_TUF_MIRROR'])
    .option(
      '--trust-stale-after <duration>',
      'without a successful refresh for this long, unknown CAs and logs are TrustMaterialStale, never definite',
      env['SIGWATCH_TRUST_STALE_AFTER'] ?? '168h',
    )
    .option(
      '--eviction-retry-interval <duration>',
      'how soon a refused eviction (PodDisruptionBudget), an unready owner or an undecided replacement is looked at again',
      env['SIGWATCH_EVICTION_RETRY_INTERVAL'] ?? '30s',
    )
    .option(
      '--api-address <ip>',
      'aggregated API (inventory.sigwatch.dev) address',
      env['SIGWATCH_API_ADDRESS'] ?? '0.0.0.0',
    )
    .option(
      '--api-port <port>',
      'aggregated API port (TLS; the API server front proxy only, SubjectAccessReview per request); "off" serves none',
      env['SIGWATCH_API_PORT'] ?? '8443',
    )
    .option(
      '--api-tls-cert <file>',
      'PEM serving certificate, e.g. from cert-manager (default: minted at start-up, its CA published in the APIService)',
    )
    .option('--api-tls-key <file>', 'PEM private key for --api-tls-cert')
    .option(
      '--api-service <name>',
      "the Service in the operator's namespace the APIService points at (the minted certificate's DNS names)",
      env['SIGWATCH_API_SERVICE'] ?? 'sigwatch-inventory',
    )
    .option(
      '--webhook-address <ip>',
      'admission webhook address',
      env['SIGWATCH_WEBHOOK_ADDRESS'] ?? '0.0.0.0',
    )
    .option(
      '--webhook-port <port>',
      'admission webhook port (TLS; every replica answers); "off" (the default) serves none — the install sets 9443',
      env['SIGWATCH_WEBHOOK_PORT'] ?? 'off',
    )
    .option(
      '--webhook-tls-cert <file>',
      "PEM serving certificate, e.g. from cert-manager (default: minted from the CA the leader keeps in the Secret sigwatch-webhook-ca, published in the webhook configurations' caBundle)",
    )
    .option('--webhook-tls-key <file>', 'PEM private key for --webhook-tls-cert')
    .option(
      '--webhook-service <name>',
      "the Service in the operator's namespace the webhook configurations point at (the minted certificate's DNS names)",
      env['SIGWATCH_WEBHOOK_SERVICE'] ?? 'sigwatch-webhook',
    )
    .option(
      '--webhook-configuration <name>',
      'name of the ValidatingWebhookConfiguration and MutatingWebhookConfiguration whose caBundle the leader keeps',
      env['SIGWATCH_WEBHOOK_CONFIGURATION'] ?? 'sigwatch',
    )
    .option(
      '--webhook-dns-name <name>',
      'a further DNS name for the minted webhook certificate (repeatable; e.g. localhost for a URL webhook)',
      repeatable,
      [],
    )
    .option(
      '--inventory-unsigned-sboms',
      'also read unsigned .sbom attachments and answer from them, marked unsigned (one more registry request per digest and interval)',
      env['SIGWATCH_INVENTORY_UNSIGNED_SBOMS'] === 'true',
    )
    .option(
      '--alertmanager-url-allowlist <url>',
      'an Alertmanager URL (prefix) ImageAudits may notify (repeatable; default: none)',
      repeatable,
      (env['SIGWATCH_ALERTMANAGER_URL_ALLOWLIST'] ?? '').split(',').filter((u) => u !== ''),
    )
    .option(
      '--max-evidence-bytes <size>',
      'bytes fetched per evidence source of a digest (each .sig, .att, .sbom tag and referrers); beyond it the newest that fit are judged',
      env['SIGWATCH_MAX_EVIDENCE_BYTES'] ?? '16Mi',
    )
    .option(
      '--policy-reports',
      'keep a wgpolicyk8s.io/v1alpha2 PolicyReport per namespace (Policy Reporter); needs config/policy-reports',
      env['SIGWATCH_POLICY_REPORTS'] === 'true',
    )
    .action(async (flags: RunFlags) => {
      const probePort = Number(flags.probePort);
      if (!Number.isInteger(probePort) || probePort < 0 || probePort > 65_535)
        throw usage('--probe-port must be 0..65535');
      const leaseDurationMs = parseDuration(flags.leaseDuration);
      if (leaseDurationMs === undefined || leaseDurationMs < 1000)
        throw usage('--lease-duration must be a duration of at least 1s');
      const staleAfterMs = parseDuration(flags.trustStaleAfter);
      if (staleAfterMs === undefined || staleAfterMs <= 0)
        throw usage('--trust-stale-after must be a positive duration');
      const evictionRetryMs = parseDuration(flags.evictionRetryInterval);
      if (evictionRetryMs === undefined || evictionRetryMs < 1000)
        throw usage('--eviction-retry-interval must be a duration of at least 1s');
      for (const u of flags.alertmanagerUrlAllowlist)
        if (!/^https?:\/\//.test(u) || !URL.canParse(u))
          throw usage(`--alertmanager-url-allowlist: not an http(s) URL: ${u}`);
      const apiPort = flags.apiPort === 'off' ? undefined : Number(flags.apiPort);
      if (apiPort !== undefined && (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65_535))
        throw usage('--api-port must be 0..65535 or off');
      if ((flags.apiTlsCert === undefined) !== (flags.apiTlsKey === undefined))
        throw usage('--api-tls-cert and --api-tls-key go together');
      if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(flags.apiService))
        throw usage('--api-service must be a Service name');
      const webhookPort = flags.webhookPort === 'off' ? undefined : Number(flags.webhookPort);
      if (
        webhookPort !== undefined &&
        (!Number.isInteger(webhookPort) || webhookPort < 0 || webhookPort > 65_535)
      )
        throw usage('--webhook-port must be 0..65535 or off');
      if ((flags.webhookTlsCert === undefined) !== (flags.webhookTlsKey === undefined))
        throw usage('--webhook-tls-cert and --webhook-tls-key go together');
      const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
      if (!dnsLabel.test(flags.webhookService)) throw usage('--webhook-service must be a Service name');
      if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(flags.webhookConfiguration))
        throw usage('--webhook-configuration must be an object name');
      for (const name of flags.webhookDnsName)
        if (name.length > 253 || !name.split('.').every((l) => dnsLabel.test(l)))
          throw usage(`--webhook-dns-name: not a DNS name: ${name}`);
      const maxEvidenceBytes = parseByteSize('--max-evidence-bytes', flags.maxEvidenceBytes);
      // Loaded on demand: the operator pulls in the Kubernetes client, winston and prom-client, which
      // would add ~200 ms to the start of every other command (verify, sbom, query).
      const [{ createLogger }, { startOperator }] = await Promise.all([
        import('../operator/kube/logger.js'),
        import('../operator/operator.js'),
      ]);
      const logger = createLogger(flags.logLevel, flags.logFormat);
      const identity = flags.identity ?? `${env['POD_NAME'] ?? hostname()}-${randomBytes(3).toString('hex')}`;
      const operator = await startOperator({
        ...(flags.kubeconfig === undefined ? {} : { kubeconfig: flags.kubeconfig }),
        namespace: flags.namespace,
        probeAddress: flags.probeAddress,
        probePort,
        insecureRegistries: flags.insecureRegistry,
        maxEvidenceBytes,
        ...(flags.registryCredentialsSecret === undefined
          ? {}
          : { registryCredentialsSecret: flags.registryCredentialsSecret }),
        podPullSecrets: flags.podPullSecrets,
        kubeQps: positive('--kube-qps', flags.kubeQps, 10_000),
        kubeBurst: positive('--kube-burst', flags.kubeBurst, 10_000),
        identity,
        ...(env['POD_NAME'] === undefined ? {} : { podName: env['POD_NAME'] }),
        leaderElection: flags.leaderElection,
        leaseDurationMs,
        evictionRetryMs,
        alertmanagerAllowlist: flags.alertmanagerUrlAllowlist,
        policyReports: flags.policyReports,
        ...(apiPort === undefined
          ? {}
          : {
              api: {
                address: flags.apiAddress,
                port: apiPort,
                ...(flags.apiTlsCert === undefined || flags.apiTlsKey === undefined
                  ? {}
                  : { tls: { certFile: flags.apiTlsCert, keyFile: flags.apiTlsKey } }),
                dnsNames: [
                  `${flags.apiService}.${flags.namespace}.svc`,
                  `${flags.apiService}.${flags.namespace}.svc.cluster.local`,
                ],
              },
            }),
        ...(webhookPort === undefined
          ? {}
          : {
              webhook: {
                address: flags.webhookAddress,
                port: webhookPort,
                ...(flags.webhookTlsCert === undefined || flags.webhookTlsKey === undefined
                  ? {}
                  : { tls: { certFile: flags.webhookTlsCert, keyFile: flags.webhookTlsKey } }),
                dnsNames: [
                  `${flags.webhookService}.${flags.namespace}.svc`,
                  `${flags.webhookService}.${flags.namespace}.svc.cluster.local`,
                  ...flags.webhookDnsName,
                ],
                configuration: flags.webhookConfiguration,
              },
            }),
        inventoryUnsignedSboms: flags.inventoryUnsignedSboms,
        trustRefresh: {
          enabled: flags.trustRefresh === 'on',
          ...(flags.tufMirror === undefined ? {} : { mirrorURL: flags.tufMirror }),
          staleAfterMs,
        },
        logger,
      });
      context.output.writeErr(
        `sigwatch: running; probes on port ${String(operator.probePort)}${operator.apiPort === undefined ? '' : `, aggregated API on port ${String(operator.apiPort)}`}${operator.webhookPort === undefined ? '' : `, admission webhook on port ${String(operator.webhookPort)}`}\n`,
      );
      const signal = await untilSignal();
      logger.info('shutting down', { signal });
      await operator.stop();
    });
}
