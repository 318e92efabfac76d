/** Small statistics and reporting helpers for benchmarks. */
import { cpus } from 'node:os';

export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

export function quantile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (pos - lo);
}

export function environment(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `Node ${process.version}, ${String(cpus().length)} × ${cpu}`;
}

export const ms = (n: number): string => `${n.toFixed(n < 10 ? 2 : 0)} ms`;

/** Sum of a Prometheus text metric's samples whose labels match `labels` (a regexp over the label text). */
export function metricSum(text: string, metric: string, labels = /.*/): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${metric}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
    if (labels.test(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}
