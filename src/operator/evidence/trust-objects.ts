/**
 * Trust material from the operator's namespace (design §4.2): public keys in
 * Secrets (`secretRef`) and trusted roots in ConfigMaps (`trustedRootRef`,
 * key `trusted_root.json`). Every change bumps the generation, which
 * re-evaluates every digest without a registry request. Only the operator's
 * own namespace is read: a policy cannot point at another tenant's Secret.
 */
import type { TrustMaterial } from '../../policy/trust-material.js';
import { secretKeyId } from '../../policy/trust-material.js';
import { loadTrustedRoot, type LoadedTrustRoot } from '../../verify/trust.js';
import { parsePullSecret, type CredentialEntry } from '../../registry/credentials.js';
import type { Logger } from '../kube/logger.js';
import { asObject as obj } from '../../base/json.js';

/** A Secret or ConfigMap trimmed to its name and decoded string data. */
export interface DataObject {
  readonly name: string;
  readonly type?: string;
  readonly data: Readonly<Record<string, string>>;
}

export const trustedRootKey = 'trusted_root.json';

/** Trims a Secret (base64 `data`) or ConfigMap (`data`) to its name and text values. */
export function trimDataObject(raw: unknown, base64: boolean): DataObject | undefined {
  const o = obj(raw);
  const name = obj(o?.['metadata'])?.['name'];
  if (typeof name !== 'string') return undefined;
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(o?.['data']) ?? {})) {
    if (typeof v === 'string') data[k] = base64 ? Buffer.from(v, 'base64').toString('utf8') : v;
  }
  const type = o?.['type'];
  return { name, ...(typeof type === 'string' ? { type } : {}), data };
}

export class TrustObjects {
  private readonly secrets = new Map<string, DataObject>();
  private readonly configMaps = new Map<string, DataObject>();
  private readonly roots = new Map<string, LoadedTrustRoot>();
  private generation = 0;

  constructor(
    /** Read on every `material()`: the refresher replaces the root and flips staleness. */
    private readonly publicGood: () => TrustMaterial['publicGood'],
    private readonly logger: Logger,
  ) {}

  /** The public-good root was refreshed or went stale. */
  publicGoodChanged(): void {
    this.generation++;
  }

  setSecret(name: string, secret: DataObject | undefined): void {
    if (secret === undefined) this.secrets.delete(name);
    else this.secrets.set(name, secret);
    this.generation++;
  }

  setConfigMap(name: string, configMap: DataObject | undefined): void {
    this.roots.delete(name);
    if (configMap === undefined) {
      this.configMaps.delete(name);
    } else {
      this.configMaps.set(name, configMap);
      const text = configMap.data[trustedRootKey];
      if (text !== undefined) {
        try {
          this.roots.set(name, loadTrustedRoot(JSON.parse(text)));
        } catch (error: unknown) {
          // Policies that refer to it become not ready with ReferenceNotFound; the rest are unaffected.
          this.logger.warn('invalid trusted root in ConfigMap', {
            configMap: name,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
    }
    this.generation++;
  }

  material(): TrustMaterial {
    const secretKeys = new Map<string, string>();
    for (const s of this.secrets.values()) {
      for (const [key, value] of Object.entries(s.data))
        secretKeys.set(secretKeyId({ name: s.name, key }), value);
    }
    return {
      generation: this.generation,
      publicGood: this.publicGood(),
      trustedRoots: new Map(this.roots),
      secretKeys,
    };
  }

  secret(name: string): DataObject | undefined {
    return this.secrets.get(name);
  }
}

/** The registry credentials in a dockerconfigjson Secret; none (logged) when it is unusable. */
export function registryCredentials(secret: DataObject | undefined, logger: Logger): CredentialEntry[] {
  if (secret === undefined) return [];
  try {
    // parsePullSecret expects base64 values, as in Secret.data.
    const encoded = Object.fromEntries(
      Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    return parsePullSecret(secret.type ?? '', encoded);
  } catch (error: unknown) {
    logger.error('registry credentials Secret unusable; using anonymous access', {
      secret: secret.name,
      error: error instanceof Error ? error.message : String(error),
    });
    return [];
  }
}
