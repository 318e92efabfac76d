/**
 * Go / Kubernetes `metav1.Duration` strings (`10m`, `1h30m`, `720h`, `1.5h`,
 * `500ms`), the format every duration field of ImagePolicy uses, so a value
 * that `kubectl` users copy from other CRDs means the same thing here.
 *
 * Unlike Go, a sign is refused: no policy duration may be negative.
 */

const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign, as Go accepts
  μs: 1e-3, // U+03BC Greek mu, as Go accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

// One `<decimal><unit>` term; the unit alternatives are ordered so `ms` wins over `m`.
const termPattern = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Inputs longer than this are refused before scanning (policyLimits.duration). */
const maxDurationLength = 64;

/**
 * Parses a duration into milliseconds (fractional below 1 ms). Returns
 * undefined for anything Go's `time.ParseDuration` would refuse, for signed
 * values, and for results that are not finite. `"0"` is zero, as in Go.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text === '' || text.length > maxDurationLength) return undefined;
  let totalMs = 0;
  termPattern.lastIndex = 0;
  while (termPattern.lastIndex < text.length) {
    const start = termPattern.lastIndex;
    const match = termPattern.exec(text);
    if (match?.index !== start) return undefined;
    const [, amount = '', unit = ''] = match;
    const factor = unitMs[unit];
    if (factor === undefined) return undefined;
    totalMs += Number(amount) * factor;
  }
  return Number.isFinite(totalMs) ? totalMs : undefined;
}
