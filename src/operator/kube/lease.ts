/**
 * The `coordination.k8s.io/v1` Lease as leader election reads and writes it:
 * only fields of the expected types are kept from what the API server sends
 * (anyone with access may write a Lease), and times go out as MicroTime.
 */
import { asObject } from '../../base/json.js';

/** The fields of a `coordination.k8s.io/v1` LeaseSpec this module reads and writes; times are MicroTime strings. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  strategy?: string;
  preferredHolder?: string;
}

export interface Lease {
  readonly apiVersion?: string;
  readonly kind?: string;
  /** Kept whole as read: resourceVersion, labels and owners go back unchanged. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly spec: LeaseSpec;
}

export const leasesPath = (namespace: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
export const leasePath = (namespace: string, name: string): string =>
  `${leasesPath(namespace)}/${encodeURIComponent(name)}`;

/** A Lease as the API server sent it, keeping only fields of the expected types (anyone may write a Lease). */
export function leaseOf(raw: unknown): Lease {
  const o = asObject(raw) ?? {};
  const rawSpec = asObject(o['spec']) ?? {};
  const spec: LeaseSpec = {};
  for (const k of ['holderIdentity', 'acquireTime', 'renewTime', 'strategy', 'preferredHolder'] as const) {
    const v = rawSpec[k];
    if (typeof v === 'string') spec[k] = v;
  }
  for (const k of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
    const v = rawSpec[k];
    if (typeof v === 'number' && Number.isSafeInteger(v)) spec[k] = v;
  }
  return { metadata: asObject(o['metadata']) ?? {}, spec };
}

/**
 * The lease as read with a new election record. Metadata is kept whole: its
 * resourceVersion makes the write conditional, and labels or owners someone
 * else set survive. Coordinated-election fields (strategy, preferredHolder)
 * are not ours to drop.
 */
export function withSpec(current: Lease, spec: LeaseSpec): Lease {
  // `spec` is the caller's fresh literal, completed in place.
  if (current.spec.strategy !== undefined) spec.strategy = current.spec.strategy;
  if (current.spec.preferredHolder !== undefined) spec.preferredHolder = current.spec.preferredHolder;
  return { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: current.metadata, spec };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits, in UTC. */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A MicroTime (or any RFC 3339 time) in epoch ms; undefined when it does not parse. */
export function toMillis(value: string | undefined): number | undefined {
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export function toMicroTime(value: string | undefined): string | undefined {
  const ms = toMillis(value);
  return ms === undefined ? undefined : microTime(ms);
}
