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
    const ns = encodeURIComponent(options.namespace);
    this.secrets = new Reflector<DataObject>({
      connection: options.connection,
      path: `/api/v1/namespaces/${ns}/secrets`,
      trim: (raw) => trimDataObject(raw, true),
      logger,
      onEvent: (type, _key, obj, old) => {
        const name = obj?.name ?? old?.name;
        if (type === 'SYNC' || name === undefined) return;
        const now = type === 'DELETED' ? undefined : obj;
        options.onSecret?.(name, now?.data);
        this.objects.setSecret(name, now);
        // Rotated registry credentials apply from the next authentication, without a restart.
        if (name === options.registryCredentialsSecret) this.readCredentials();
        this.changed();
      },
    });
    this.configMaps = new Reflector<DataObject>({
      connection: options.connection,
      path: `/api/v1/namespaces/${ns}/configmaps`,
      trim: (raw) => trimDataObject(raw, false),
      logger,
      onEvent: (type, _key, obj, old) => {
        const name = obj?.name ?? old?.name;
        if (type === 'SYNC' || name === undefined) return;
        this.objects.setConfigMap(name, type === 'DELETED' ? undefined : obj);
        this.changed();
      },
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

  private readCredentials(): void {
    const name = this.options.registryCredentialsSecret;
    if (name !== undefined)
      this.operatorCredentials = registryCredentials(this.objects.secret(name), this.options.logger);
  }

  private changed(): void {
    if (this.started) this.options.onChange(this.objects.material());
  }
}
