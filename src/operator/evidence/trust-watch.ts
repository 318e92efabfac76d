/**
 * Trust material as the operator's namespace holds it (design §3): the
 * Secrets and ConfigMaps that policies name (keys, trusted roots, registry
 * credentials) are watched, combined with the Sigstore public-good root the
 * refresher keeps, and handed on whenever any of them changes — a rotated
 * key or root takes effect without a restart.
 */
import type { TrustMaterial } from '../../policy/trust-material.js';
import type { CredentialEntry } from '../../registry/credentials.js';
import type { KubeConnection } from '../kube/connection.js';
import type { Logger } from '../kube/logger.js';
import { Reflector } from '../kube/watch.js';
import { registryCredentials, trimDataObject, TrustObjects, type DataObject } from './trust-objects.js';
import { PublicGoodRoot } from './trust-refresh.js';

export interface TrustWatchOptions {
  readonly connection: KubeConnection;
  readonly namespace: string;
  readonly logger: Logger;
  /** dockerconfigjson Secret with the operator's own registry credentials. */
  readonly registryCredentialsSecret?: string;
  readonly refresh: { readonly enabled: boolean; readonly mirrorURL?: string; readonly staleAfterMs: number };
  /** The combined material changed (called after `start()` only). */
  readonly onChange: (material: TrustMaterial) => void;
  /** Any Secret of the namespace changed or went away (the webhook CA lives in one). */
  readonly onSecret?: (name: string, data: Readonly<Record<string, string>> | undefined) => void;
}

export class TrustWatch {
  private readonly objects: TrustObjects;
  private readonly publicGood: PublicGoodRoot;
  private readonly secrets: Reflector<DataObject>;
  private readonly configMaps: Reflector<DataObject>;
  private operatorCredentials: readonly CredentialEntry[] = [];
  private started = false;

  constructor(private readonly options: TrustWatchOptions) {
    const { logger } = options;
    this.publicGood = new PublicGoodRoot({
      enabled: options.refresh.enabled,
      ...(options.refresh.mirrorURL === undefined ? {} : { mirrorURL: options.refresh.mirrorURL }),
      staleAfterMs: options.refresh.staleAfterMs,
      logger,
      onChange: () => {
        this.objects.publicGoodChanged();
        this.changed();
      },
    });
    this.objects = new TrustObjects(() => this.publicGood.current(), logger);
    this.secrets = this.watch('secrets', (name, secret) => {
      options.onSecret?.(name, secret?.data);
      this.objects.setSecret(name, secret);
      // Rotated registry credentials apply from the next authentication, without a restart.
      if (name === options.registryCredentialsSecret) this.readCredentials();
    });
    this.configMaps = this.watch('configmaps', (name, configMap) => {
      this.objects.setConfigMap(name, configMap);
    });
  }

  /** Lists both kinds, then starts the public-good refresher; `onChange` fires from then on. */
  async start(): Promise<void> {
    await Promise.all([this.secrets.start(), this.configMaps.start()]);
    this.readCredentials();
    this.started = true;
    this.changed();
    this.publicGood.start();
  }

  material(): TrustMaterial {
    return this.objects.material();
  }

  secret(name: string): DataObject | undefined {
    return this.objects.secret(name);
  }

  /** The operator's own registry credentials, as its Secret says now. */
  credentials(): readonly CredentialEntry[] {
    return this.operatorCredentials;
  }

  /** Seconds since the public-good root was last refreshed (`sigwatch_trust_root_age_seconds`). */
  ageSeconds(): number {
    return this.publicGood.ageSeconds();
  }

  hasSynced(): boolean {
    return this.secrets.hasSynced() && this.configMaps.hasSynced();
  }

  stop(): void {
    this.secrets.stop();
    this.configMaps.stop();
    this.publicGood.stop();
  }

  /** A watch of the namespace's Secrets or ConfigMaps; `apply` gets each change by name (undefined: gone). */
  private watch(
    resource: 'secrets' | 'configmaps',
    apply: (name: string, obj: DataObject | undefined) => void,
  ): Reflector<DataObject> {
    return new Reflector<DataObject>({
      connection: this.options.connection,
      path: `/api/v1/namespaces/${encodeURIComponent(this.options.namespace)}/${resource}`,
      // Secret data is base64; ConfigMap data is text.
      trim: (raw) => trimDataObject(raw, resource === 'secrets'),
      logger: this.options.logger,
      onEvent: (type, _key, obj, old) => {
        const name = obj?.name ?? old?.name;
        if (type === 'SYNC' || name === undefined) return;
        apply(name, type === 'DELETED' ? undefined : obj);
        this.changed();
      },
    });
  }

  private readCredentials(): void {
    const name = this.options.registryCredentialsSecret;
    if (name !== undefined)
      this.operatorCredentials = registryCredentials(this.objects.secret(name), this.options.logger);
  }

  private changed(): void {
    if (this.started) this.options.onChange(this.objects.material());
  }
}
