/**
 * The webhook's serving certificates (issue 17). Every replica answers
 * admission, so the API server must trust whichever one the Service picks:
 * one CA for all of them, kept by the leader in the Secret
 * `sigwatch-webhook-ca` of the operator's namespace (`ca.crt`, `ca.key`,
 * and `bundle.crt`: every CA still trusted), as Kyverno keeps its own. Each
 * replica mints its own short-lived leaf from that CA in memory.
 *
 * The leader creates the CA (a year), rotates it a month before it ends —
 * the new CA and the old one both stay in the bundle until the old one
 * expires — and publishes the bundle into every webhook of the two
 * `sigwatch` webhook configurations, with the read's resourceVersion as a
 * precondition. A replica switches to a new CA only once the published
 * bundle holds it, so no request ever meets a certificate the API server
 * does not trust yet; leaves are renewed from the same CA, which changes
 * nothing for the API server. A CA re-created (the Secret deleted) starts
 * its bundle with the CAs already published, for the same reason.
 */
import { X509Certificate } from 'node:crypto';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import { mintCa, mintLeaf, type ServingCa, type ServingCert } from '../tls/serving-cert.js';

export const webhookCaSecret = 'sigwatch-webhook-ca';

const day = 86_400_000;

export interface WebhookCertificatesOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  readonly namespace: string;
  /** The leaf's DNS names: `<service>.<namespace>.svc` first. */
  readonly dnsNames: readonly string[];
  /** Name of the ValidatingWebhookConfiguration and the MutatingWebhookConfiguration. */
  readonly configuration: string;
  /** Holds the lease with time to spare: only then is the Secret or a configuration written. */
  readonly leading: () => boolean;
  /** Told whenever the certificate to serve changes. */
  readonly onCertificate: (cert: ServingCert) => void;
  readonly caDays?: number;
  readonly leafDays?: number;
  /** How long before its end a CA is replaced (default 30 days). */
  readonly rotateCaBeforeMs?: number;
  /** How often everything is checked (default 10 s; 2 s while a new CA waits to be published). */
  readonly reconcileMs?: number;
  readonly now?: () => Date;
}

interface CaSecret {
  readonly ca: ServingCa;
  /** PEM certificates, each a CA the API server should still trust. */
  readonly bundle: readonly string[];
}

const pemBlocks = (text: string): string[] =>
  text
    .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)
    ?.map((b) => (b.endsWith('\n') ? b : `${b}\n`)) ?? [];

/** Certificates of `pems` that parse and are still valid at `now`, each once. */
function validCerts(pems: readonly string[], now: Date): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pem of pems) {
    try {
      const cert = new X509Certificate(pem);
      if (new Date(cert.validTo) <= now || seen.has(cert.fingerprint256)) continue;
      seen.add(cert.fingerprint256);
      out.push(pem);
    } catch {
      // Not a certificate: dropped.
    }
  }
  return out;
}

/** The CA in a Secret's (decoded) data, or undefined when it is missing or broken. */
export function readCaSecret(
  data: Readonly<Record<string, string>> | undefined,
  now: Date,
): CaSecret | undefined {
  const certPem = data?.['ca.crt'];
  const keyPem = data?.['ca.key'];
  if (certPem === undefined || keyPem === undefined) return undefined;
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.ca || new Date(cert.validTo) <= now) return undefined;
    const bundle = validCerts([certPem, ...pemBlocks(data?.['bundle.crt'] ?? '')], now);
    // mintLeaf checks the key against the certificate; a broken pair fails here, not at the first handshake.
    const ca = { certPem, keyPem, notAfter: new Date(cert.validTo) };
    mintLeaf(ca, ['check.invalid'], now, 1);
    return { ca, bundle };
  } catch {
    return undefined;
  }
}

const sameCert = (a: string, b: string): boolean => {
  try {
    return new X509Certificate(a).fingerprint256 === new X509Certificate(b).fingerprint256;
  } catch {
    return false;
  }
};

interface WebhookEntry {
  readonly clientConfig?: { readonly caBundle?: string };
}
interface Configuration {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly webhooks?: readonly WebhookEntry[];
}

const kinds = ['validatingwebhookconfigurations', 'mutatingwebhookconfigurations'] as const;

export class WebhookCertificates {
  private secret: CaSecret | undefined;
  private served: { readonly ca: string; cert: ServingCert } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private failing = false;
  private started = false;
  private readonly now: () => Date;

  constructor(private readonly options: WebhookCertificatesOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The certificate served now; undefined until this replica has a CA the API server trusts. */
  current(): ServingCert | undefined {
    return this.served?.cert;
  }

  /** The CA Secret as the watch saw it (undefined: deleted or absent). */
  secretChanged(data: Readonly<Record<string, string>> | undefined): void {
    this.secret = readCaSecret(data, this.now());
    if (this.started) this.tick();
  }

  start(): void {
    this.started = true;
    this.tick();
  }

  /** Checks now, then again soon while a new CA waits to be published, else at the usual pace. */
  private tick(): void {
    clearTimeout(this.timer);
    void this.reconcile().finally(() => {
      if (!this.started) return;
      const waiting = this.secret !== undefined && this.served?.ca !== this.secret.ca.certPem;
      clearTimeout(this.timer);
      this.timer = setTimeout(
        () => {
          this.tick();
        },
        waiting ? 2_000 : (this.options.reconcileMs ?? 10_000),
      );
      this.timer.unref();
    });
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.timer);
  }

  /** One check, serialised with the others. */
  reconcile(): Promise<void> {
    const run = this.queue.then(async () => {
      try {
        if (this.options.leading()) await this.keepSecret();
        await this.serve();
        if (this.options.leading()) await this.publish();
        this.failing = false;
      } catch (error: unknown) {
        if (!this.failing)
          this.options.logger.warn('webhook certificate check failed; trying again shortly', {
            error: error instanceof Error ? error.message : String(error),
          });
        this.failing = true;
      }
    });
    this.queue = run;
    return run;
  }

  private secretPath(name = ''): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/secrets${name === '' ? '' : `/${name}`}`;
  }

  /** The leader: a CA exists, is not about to end, and its bundle holds no expired CA. */
  private async keepSecret(): Promise<void> {
    const now = this.now();
    const raw = (await this.options.kube.getOptional(this.secretPath(webhookCaSecret), 10_000)) as
      { metadata?: { resourceVersion?: string }; data?: Record<string, unknown> } | undefined;
    const decoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw?.data ?? {}))
      if (typeof v === 'string') decoded[k] = Buffer.from(v, 'base64').toString('utf8');
    const current = raw === undefined ? undefined : readCaSecret(decoded, now);
    const rotateBefore = this.options.rotateCaBeforeMs ?? 30 * day;
    // What the API server trusts now stays trusted: replicas may be serving leaves of it (a Secret
    // restored from a backup or edited by hand must not un-trust them). Expired CAs drop out.
    const published = await this.publishedCas();
    let next: CaSecret | undefined;
    if (current === undefined) {
      // New, deleted or broken: a new CA, trusted beside whatever the API server trusts now.
      const ca = mintCa(now, this.options.caDays ?? 365, 'sigwatch-webhook-ca');
      next = { ca, bundle: validCerts([ca.certPem, ...published], now) };
    } else if (current.ca.notAfter.getTime() - now.getTime() < rotateBefore) {
      const ca = mintCa(now, this.options.caDays ?? 365, 'sigwatch-webhook-ca');
      next = { ca, bundle: validCerts([ca.certPem, ...current.bundle, ...published], now) };
    } else {
      const bundle = validCerts([...current.bundle, ...published], now);
      const written = pemBlocks(decoded['bundle.crt'] ?? '');
      if (bundle.length !== written.length || !bundle.every((b) => written.some((w) => sameCert(b, w))))
        next = { ca: current.ca, bundle };
    }
    if (next === undefined) {
      this.secret = current;
      return;
    }
    if (!this.options.leading()) return;
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: webhookCaSecret,
        namespace: this.options.namespace,
        labels: { 'app.kubernetes.io/name': 'sigwatch' },
        ...(raw?.metadata?.resourceVersion === undefined
          ? {}
          : { resourceVersion: raw.metadata.resourceVersion }),
      },
      data: {
        'ca.crt': Buffer.from(next.ca.certPem).toString('base64'),
        'ca.key': Buffer.from(next.ca.keyPem).toString('base64'),
        'bundle.crt': Buffer.from(next.bundle.join('')).toString('base64'),
      },
    };
    await this.options.kube.call(
      raw === undefined
        ? { method: 'POST', path: this.secretPath(), body, timeoutMs: 10_000 }
        : { method: 'PUT', path: this.secretPath(webhookCaSecret), body, timeoutMs: 10_000 },
    );
    this.secret = next;
    this.options.logger.info('webhook CA written', {
      secret: webhookCaSecret,
      notAfter: next.ca.notAfter.toISOString(),
    });
  }

  /** Every CA published in the configurations' webhooks now (what the API server trusts). */
  private async publishedCas(): Promise<string[]> {
    const out: string[] = [];
    for (const kind of kinds) {
      const config = (await this.options.kube.getOptional(this.configPath(kind), 10_000)) as
        Configuration | undefined;
      for (const w of config?.webhooks ?? [])
        out.push(...pemBlocks(Buffer.from(w.clientConfig?.caBundle ?? '', 'base64').toString('utf8')));
    }
    return out;
  }

  private configPath(kind: (typeof kinds)[number]): string {
    return `/apis/admissionregistration.k8s.io/v1/${kind}/${encodeURIComponent(this.options.configuration)}`;
  }

  /**
   * Every replica: serve a leaf of the Secret's CA once every webhook of the
   * configurations that exist trusts it; renew the leaf a third before its end.
   */
  private async serve(): Promise<void> {
    const secret = this.secret;
    if (secret === undefined) return;
    const now = this.now();
    const leafDays = this.options.leafDays ?? 30;
    if (this.served?.ca === secret.ca.certPem) {
      if (this.served.cert.notAfter.getTime() - now.getTime() > (leafDays * day) / 3) return;
    } else if (!(await this.trusted(secret.ca.certPem))) {
      return;
    }
    const cert = mintLeaf(secret.ca, this.options.dnsNames, now, leafDays);
    this.served = { ca: secret.ca.certPem, cert };
    this.options.onCertificate(cert);
    this.options.logger.info('webhook serving certificate loaded', { notAfter: cert.notAfter.toISOString() });
  }

  /** Whether every webhook of every configuration that exists holds `caPem` in its caBundle. */
  private async trusted(caPem: string): Promise<boolean> {
    for (const kind of kinds) {
      const config = (await this.options.kube.getOptional(this.configPath(kind), 10_000)) as
        Configuration | undefined;
      for (const w of config?.webhooks ?? []) {
        const held = pemBlocks(Buffer.from(w.clientConfig?.caBundle ?? '', 'base64').toString('utf8'));
        if (!held.some((p) => sameCert(p, caPem))) return false;
      }
    }
    return true;
  }

  /** The leader: the Secret's bundle in every webhook of both configurations, where it differs. */
  private async publish(): Promise<void> {
    const secret = this.secret;
    if (secret === undefined) return;
    const want = Buffer.from(secret.bundle.join('')).toString('base64');
    for (const kind of kinds) {
      const config = (await this.options.kube.getOptional(this.configPath(kind), 10_000)) as
        Configuration | undefined;
      if (config === undefined) continue;
      const ops = (config.webhooks ?? []).flatMap((w, i) =>
        w.clientConfig?.caBundle === want
          ? []
          : [{ op: 'add', path: `/webhooks/${String(i)}/clientConfig/caBundle`, value: want }],
      );
      if (ops.length === 0 || !this.options.leading()) continue;
      await this.options.kube.call({
        method: 'PATCH',
        path: this.configPath(kind),
        contentType: 'application/json-patch+json',
        body: [
          { op: 'test', path: '/metadata/resourceVersion', value: config.metadata?.resourceVersion },
          ...ops,
        ],
        timeoutMs: 10_000,
      });
      this.options.logger.info('published the webhook CA bundle', {
        configuration: `${kind}/${this.options.configuration}`,
      });
    }
  }
}
