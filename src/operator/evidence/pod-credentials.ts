/**
 * Registry credentials from the pods themselves, with `--pod-pull-secrets`
 * (design §4.2): each pod's `imagePullSecrets` and those of its service
 * account, as the kubelet would use them to pull the image.
 *
 * Secrets and ServiceAccounts are read with `get`, a few at a time and only
 * those pods name — never listed or watched, so the operator needs no
 * cluster-wide `list` on Secrets — and only by the leader. Each is re-read
 * after `ttlMs` while pods still name it (a failed read after `retryMs`),
 * and forgotten once no pod has named it for two TTLs; the operator re-notes
 * every pod periodically, so quiet pods keep theirs.
 *
 * Until a pod's secrets are read its image may be judged anonymously and come
 * out Unknown (RegistryUnauthorized); the evidence store retries failures
 * within seconds, so the first definite verdict is only delayed.
 */
import pLimit from 'p-limit';
import { parsePullSecret, type CredentialEntry } from '../../registry/credentials.js';
import type { KubeHttp } from '../kube/client.js';
import type { Logger } from '../kube/logger.js';
import { secretNames, type TrimmedPod } from '../pod.js';

export interface PodCredentialsOptions {
  readonly kube: KubeHttp;
  readonly logger: Logger;
  /** Only the leader reads (followers never use the credentials); it re-notes every pod on taking over. */
  readonly active?: () => boolean;
  /** A failed read is retried after this long (default 30 s), not after a whole TTL. */
  readonly retryMs?: number;
  /** How long a read Secret or ServiceAccount is trusted (default 5 minutes). */
  readonly ttlMs?: number;
  readonly now?: () => number;
}

interface Cached<T> {
  value: T;
  readAt: number;
  failed: boolean;
  notedAt: number;
  reading?: Promise<void> | undefined;
}

/** Pull secrets read for one admission request at most, of the pod's own and of its service account each. */
const maxAdmissionSecrets = 16;

/** Reads at a time: a first list of 3,000 namespaces must not become 3,000 parallel GETs. */
const readConcurrency = 4;

export class PodCredentials {
  private readonly secrets = new Map<string, Cached<readonly CredentialEntry[]>>();
  private readonly accounts = new Map<string, Cached<readonly string[]>>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly limit = pLimit(readConcurrency);

  constructor(private readonly options: PodCredentialsOptions) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Registers the secrets a pod names and reads those not read (or stale).
   * Never throws. The operator calls it for every pod on watch events and
   * periodically (a quiet pod must keep its secrets from being forgotten).
   */
  notePod(pod: TrimmedPod): void {
    for (const name of pod.pullSecrets) this.noteSecret(pod.namespace, name);
    const accountKey = `${pod.namespace}/${pod.serviceAccount}`;
    // The account's secrets as last read count as named by this pod too.
    for (const name of this.accounts.get(accountKey)?.value ?? []) this.noteSecret(pod.namespace, name);
    this.note(this.accounts, accountKey, [], async () => {
      const sa = await this.get(`serviceaccounts/${encodeURIComponent(pod.serviceAccount)}`, pod.namespace);
      const names = secretNames((sa as { imagePullSecrets?: unknown } | undefined)?.imagePullSecrets);
      for (const name of names) this.noteSecret(pod.namespace, name);
      return names;
    });
    this.sweep();
  }

  /**
   * Reads now — on any replica — the secrets `pod` names and those of its
   * service account, and waits for them (admission: the pod does not exist
   * yet, and its image is resolved with its credentials as the kubelet
   * would). Entries read stay cached like any other; never throws.
   */
  async readFor(pod: Pick<TrimmedPod, 'namespace' | 'pullSecrets' | 'serviceAccount'>): Promise<void> {
    const accountKey = `${pod.namespace}/${pod.serviceAccount}`;
    // The request is anyone's to write: only the first few names are read (no pod needs more).
    const named = [...new Set(pod.pullSecrets)].slice(0, maxAdmissionSecrets);
    const keys = named.map((name) => `${pod.namespace}/${name}`);
    for (const name of named) this.noteSecret(pod.namespace, name, true);
    this.note(
      this.accounts,
      accountKey,
      [],
      async () =>
        secretNames(
          (
            (await this.get(`serviceaccounts/${encodeURIComponent(pod.serviceAccount)}`, pod.namespace)) as
              { imagePullSecrets?: unknown } | undefined
          )?.imagePullSecrets,
        ),
      true,
    );
    await this.accounts.get(accountKey)?.reading;
    for (const name of (this.accounts.get(accountKey)?.value ?? []).slice(0, maxAdmissionSecrets)) {
      this.noteSecret(pod.namespace, name, true);
      keys.push(`${pod.namespace}/${name}`);
    }
    await Promise.all(keys.map((k) => this.secrets.get(k)?.reading ?? Promise.resolve()));
  }

  /** Every credential read so far, in the order first seen. */
  entries(): readonly CredentialEntry[] {
    return [...this.secrets.values()].flatMap((c) => c.value);
  }

  /** Resolves when every read started so far has finished (for tests). */
  async settled(): Promise<void> {
    for (;;) {
      const pending = [...this.secrets.values(), ...this.accounts.values()].flatMap((c) =>
        c.reading === undefined ? [] : [c.reading],
      );
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  private noteSecret(namespace: string, name: string, always = false): void {
    this.note(
      this.secrets,
      `${namespace}/${name}`,
      [],
      async () => {
        const secret = (await this.get(`secrets/${encodeURIComponent(name)}`, namespace)) as
          { type?: unknown; data?: unknown } | undefined;
        if (secret === undefined) return [];
        const data = secret.data;
        const encoded =
          typeof data === 'object' && data !== null
            ? Object.fromEntries(
                Object.entries(data).filter((e): e is [string, string] => typeof e[1] === 'string'),
              )
            : {};
        try {
          return parsePullSecret(typeof secret.type === 'string' ? secret.type : '', encoded);
        } catch (error: unknown) {
          // Not a pull secret (or a broken one): the pod's other secrets still count.
          this.options.logger.warn('pull secret unusable', {
            secret: `${namespace}/${name}`,
            error: error instanceof Error ? error.message : String(error),
          });
          return [];
        }
      },
      always,
    );
  }

  /** `always`: read even on a follower (admission reads for the request at hand). */
  private note<T>(
    table: Map<string, Cached<T>>,
    key: string,
    empty: T,
    read: () => Promise<T>,
    always = false,
  ): void {
    const now = this.now();
    let entry = table.get(key);
    if (entry === undefined) {
      entry = { value: empty, readAt: Number.NEGATIVE_INFINITY, failed: false, notedAt: now };
      table.set(key, entry);
    }
    entry.notedAt = now;
    const wait = entry.failed ? (this.options.retryMs ?? 30_000) : this.ttlMs;
    if (entry.reading !== undefined || now - entry.readAt < wait) return;
    if (!always && this.options.active?.() === false) return;
    const target = entry;
    target.reading = this.limit(read)
      .then((value) => {
        target.value = value;
        target.failed = false;
      })
      .catch((error: unknown) => {
        // Keep what was read before: a failed re-read must not drop working credentials.
        target.failed = true;
        this.options.logger.warn('could not read pull secrets', {
          object: key,
          error: error instanceof Error ? error.message : String(error),
        });
      })
      .finally(() => {
        target.readAt = this.now();
        target.reading = undefined;
      });
  }

  /** The object, or undefined when it does not exist (404). */
  private get(path: string, namespace: string): Promise<unknown> {
    return this.options.kube.getOptional(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/${path}`,
      10_000,
    );
  }

  private sweep(): void {
    const cutoff = this.now() - 2 * this.ttlMs;
    for (const table of [this.secrets, this.accounts] as Map<string, Cached<unknown>>[]) {
      for (const [key, entry] of table)
        if (entry.notedAt < cutoff && entry.reading === undefined) table.delete(key);
    }
  }
}
