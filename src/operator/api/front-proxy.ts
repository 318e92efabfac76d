/**
 * Who is asking (delegated authentication, as every aggregated API server
 * does): the API server authenticates the user, then forwards the request
 * with a client certificate signed by its request-header CA and the user in
 * `X-Remote-User`/`X-Remote-Group`/`X-Remote-Extra-*`. Those headers are
 * believed only on a connection whose certificate that CA signed and whose
 * common name is one of the allowed names — anyone else could write them.
 *
 * The CA, names and header names come from `kube-system/extension-apiserver-
 * authentication`, which the API server maintains; it is re-read every
 * minute so a rotated front-proxy CA is honoured without a restart. No
 * other way in: no bearer tokens, no anonymous requests.
 */
import type { Logger } from '../kube/logger.js';
import type { KubeHttp } from '../kube/client.js';

export interface RequestHeaderConfig {
  /** PEM: the CA that signs the front proxy's client certificate. */
  readonly ca: string;
  /** Common names accepted; empty: any certificate the CA signed. */
  readonly allowedNames: readonly string[];
  readonly usernameHeaders: readonly string[];
  readonly uidHeaders: readonly string[];
  readonly groupHeaders: readonly string[];
  readonly extraPrefixes: readonly string[];
}

export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

const configMapPath = '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication';
const maxHeaderValues = 256;

function stringList(raw: string | undefined): string[] {
  if (raw === undefined || raw === '') return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string'))
    throw new Error(`not a JSON list of strings: ${raw.slice(0, 200)}`);
  return parsed;
}

/**
 * The request-header settings in the ConfigMap's data; undefined when the
 * API server has no front proxy configured (then nothing can authenticate).
 * @throws Error when a list is not JSON
 */
export function parseRequestHeaderConfig(
  data: Readonly<Record<string, string>>,
): RequestHeaderConfig | undefined {
  const ca = data['requestheader-client-ca-file'];
  if (!ca?.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  return {
    ca,
    allowedNames: stringList(data['requestheader-allowed-names']),
    usernameHeaders: stringList(data['requestheader-username-headers']).map((h) => h.toLowerCase()),
    uidHeaders: stringList(data['requestheader-uid-headers']).map((h) => h.toLowerCase()),
    groupHeaders: stringList(data['requestheader-group-headers']).map((h) => h.toLowerCase()),
    extraPrefixes: stringList(data['requestheader-extra-headers-prefix']).map((h) => h.toLowerCase()),
  };
}

const values = (headers: NodeJS.Dict<string[]>, name: string): string[] =>
  (headers[name] ?? []).filter((v) => v !== '');

function unescape(key: string): string {
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

/**
 * The user a verified front-proxy connection names; undefined when it names
 * none, or more groups or extra values than `maxHeaderValues` (refused, not
 * cut: a SubjectAccessReview about fewer groups is about another identity).
 * `headers` must be Node's `headersDistinct`: repeated headers stay apart (a
 * group name may contain a comma).
 */
export function userFromHeaders(
  config: RequestHeaderConfig,
  headers: NodeJS.Dict<string[]>,
): UserInfo | undefined {
  const username = config.usernameHeaders.map((h) => values(headers, h)[0]).find((v) => v !== undefined);
  if (username === undefined) return undefined;
  const uid = config.uidHeaders.map((h) => values(headers, h)[0]).find((v) => v !== undefined);
  const groups = config.groupHeaders.flatMap((h) => values(headers, h));
  if (groups.length > maxHeaderValues) return undefined;
  // No prototype: an extra key may be `__proto__` or `constructor` (extras come from OIDC claims).
  const extra = Object.create(null) as Record<string, string[]>;
  let extraValues = 0;
  for (const [name, list] of Object.entries(headers)) {
    const prefix = config.extraPrefixes.find((p) => name.startsWith(p));
    if (prefix === undefined || list === undefined || name.length === prefix.length) continue;
    const key = unescape(name.slice(prefix.length)).toLowerCase();
    extra[key] = [...(extra[key] ?? []), ...list];
    extraValues += list.length;
    if (extraValues > maxHeaderValues) return undefined;
  }
  return { username, ...(uid === undefined ? {} : { uid }), groups, extra: { ...extra } };
}

/** Whether a verified client certificate's common name may act as the front proxy. */
export function allowedProxy(config: RequestHeaderConfig, commonName: string | undefined): boolean {
  if (config.allowedNames.length === 0) return true;
  return commonName !== undefined && config.allowedNames.includes(commonName);
}

/** Keeps the request-header settings current; `onChange` gets each new CA. */
export class FrontProxyConfig {
  private current: RequestHeaderConfig | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      readonly kube: KubeHttp;
      readonly logger: Logger;
      readonly onChange: (config: RequestHeaderConfig | undefined) => void;
      readonly intervalMs?: number;
    },
  ) {}

  get(): RequestHeaderConfig | undefined {
    return this.current;
  }

  /** Reads the ConfigMap once (errors logged: the last good settings stay), then every interval. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      const cm = (await this.options.kube.call({
        method: 'GET',
        path: configMapPath,
        timeoutMs: 10_000,
      })) as {
        data?: Record<string, string>;
      };
      const next = parseRequestHeaderConfig(cm.data ?? {});
      if (JSON.stringify(next) === JSON.stringify(this.current)) return;
      if (next === undefined)
        this.options.logger.warn(
          'the API server has no front proxy (requestheader-client-ca-file): the aggregated API refuses every request',
        );
      this.current = next;
      this.options.onChange(next);
    } catch (error: unknown) {
      this.options.logger.warn('reading kube-system/extension-apiserver-authentication failed', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
