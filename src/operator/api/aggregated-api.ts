/**
 * The aggregated API wired together for the operator: the serving
 * certificate (minted here, or mounted files), the front proxy's settings,
 * the authorizer with its own API rate limit (reviews of callers must never
 * queue the operator's writes), the TLS server, and the CA published into
 * the APIService whenever this replica starts leading.
 */
import { readFileSync } from 'node:fs';
import { parsePackageRule } from '../../sbom/query.js';
import { KubeHttp, RateLimiter } from '../kube/client.js';
import type { KubeConnection } from '../kube/connection.js';
import type { Logger } from '../kube/logger.js';
import { CaBundlePublisher } from './api-service.js';
import { Authorizer } from './authorizer.js';
import { FrontProxyConfig } from './front-proxy.js';
import { startApiServer } from './server.js';
import type { VerdictSource } from './resource-handlers.js';
import { mintServingCert, type ServingCert } from '../tls/serving-cert.js';

export interface AggregatedApiSettings {
  readonly address: string;
  /** 0: any free port (tests). */
  readonly port: number;
  /** Mounted PEM files (cert-manager); absent: minted at start-up and published in the APIService. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** The Service's DNS names, for the minted certificate (the API server checks `<service>.<namespace>.svc`). */
  readonly dnsNames: readonly string[];
}

export interface AggregatedApi {
  readonly port: number;
  /** This replica now leads: make the API server trust it. */
  lead(): void;
  stop(): Promise<void>;
}

const rotateBeforeMs = 30 * 86_400_000;

export async function startAggregatedApi(
  settings: AggregatedApiSettings,
  deps: {
    readonly connection: KubeConnection;
    readonly userAgent: string;
    /** Holds the lease with time to spare: answers and CA writes only then (a paused former leader does neither). */
    readonly isLeader: () => boolean;
    readonly source: VerdictSource;
    readonly logger: Logger;
  },
): Promise<AggregatedApi> {
  const { logger } = deps;
  const kube = new KubeHttp(deps.connection, new RateLimiter(20, 40), deps.userAgent);
  const mounted = settings.tls;
  const load = (): { certPem: string; keyPem: string } =>
    mounted === undefined
      ? serving
      : { certPem: readFileSync(mounted.certFile, 'utf8'), keyPem: readFileSync(mounted.keyFile, 'utf8') };
  let serving: ServingCert = mintServingCert(settings.dnsNames, new Date());
  /** The CA replaced last, published beside the new one for a day so no request falls between. */
  let previousCa: { pem: string; until: number } | undefined;

  // A new front-proxy CA applies to the server's TLS context once there is a server.
  let caChanged = (): void => undefined;
  const frontProxy = new FrontProxyConfig({
    kube,
    logger,
    onChange: () => {
      caChanged();
    },
  });
  await frontProxy.start();
  const server = await startApiServer({
    host: settings.address,
    port: settings.port,
    tls: load(),
    frontProxy: () => frontProxy.get(),
    authorizer: new Authorizer(kube),
    isLeader: deps.isLeader,
    source: deps.source,
    rule: parsePackageRule,
    logger,
  });
  caChanged = () => {
    server.update();
  };
  const publisher =
    mounted === undefined
      ? new CaBundlePublisher({
          kube,
          logger,
          leading: deps.isLeader,
          bundle: () =>
            previousCa === undefined || previousCa.until < Date.now()
              ? serving.caPem
              : serving.caPem + previousCa.pem,
        })
      : undefined;
  // After a rotation the server switches to the new certificate only once the API server trusts its CA.
  let switchPending = false;
  const switchIfPublished = (inPlace: boolean): void => {
    if (!switchPending || !inPlace) return;
    switchPending = false;
    server.update(load());
  };
  publisher?.start(switchIfPublished);

  // A minted certificate is replaced a month before it expires; mounted files are re-read hourly
  // (cert-manager renews them in place).
  const renew = setInterval(() => {
    if (mounted === undefined) {
      if (serving.notAfter.getTime() - Date.now() > rotateBeforeMs) return;
      previousCa = { pem: serving.caPem, until: Date.now() + 86_400_000 };
      serving = mintServingCert(settings.dnsNames, new Date());
      // Both CAs are trusted before the server switches to the new certificate.
      switchPending = true;
      void publisher?.publish().then(switchIfPublished);
      return;
    }
    try {
      server.update(load());
    } catch (error: unknown) {
      logger.warn('reloading the aggregated API certificate failed', { error: String(error) });
    }
  }, 3_600_000);
  renew.unref();

  return {
    port: server.port,
    lead: () => void publisher?.publish(),
    async stop(): Promise<void> {
      clearInterval(renew);
      frontProxy.stop();
      publisher?.stop();
      await server.close();
    },
  };
}
