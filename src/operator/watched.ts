/**
 * What the operator keeps of the ImagePolicies and Namespaces it watches:
 * the policy's spec, labels and the parts of its stored status that must
 * outlive a replica (eviction state, condition and violation times), and a
 * namespace's labels. Watched objects are untrusted: anything malformed is
 * dropped here.
 */
import type { PolicySource } from '../policy/compile.js';
import { readPersisted, type PersistedEvictions } from './evictions/state.js';
import { readStoredStatus, type StoredStatus } from './verdicts/policy-status.js';

export interface WatchedPolicy {
  readonly source: PolicySource;
  readonly persisted: PersistedEvictions;
  readonly labels: Readonly<Record<string, string>>;
  readonly stored: StoredStatus;
}

export function trimPolicy(raw: unknown): WatchedPolicy | undefined {
  const o = raw as { metadata?: { name?: unknown; generation?: unknown }; spec?: unknown } | undefined;
  const name = o?.metadata?.name;
  if (typeof name !== 'string') return undefined;
  const generation = typeof o?.metadata?.generation === 'number' ? o.metadata.generation : 0;
  const labels: Record<string, string> = {};
  const rawLabels = (o?.metadata as { labels?: unknown } | undefined)?.labels;
  if (typeof rawLabels === 'object' && rawLabels !== null)
    for (const [k, v] of Object.entries(rawLabels)) if (typeof v === 'string') labels[k] = v;
  return {
    source: { name, generation, spec: o?.spec },
    persisted: readPersisted(raw),
    labels,
    stored: readStoredStatus(raw),
  };
}

export function trimNamespace(raw: unknown): { name: string; labels: Record<string, string> } | undefined {
  const meta = (raw as { metadata?: { name?: unknown; labels?: unknown } } | undefined)?.metadata;
  if (typeof meta?.name !== 'string') return undefined;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries((meta.labels ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'string') labels[k] = v;
  }
  return { name: meta.name, labels };
}
