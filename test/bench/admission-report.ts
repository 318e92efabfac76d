/** The admission benchmark's targets (issue 17) and its rows in the `npm run bench` table. */
import type {
  AdmissionBenchOptions,
  AdmissionBenchResult,
  AdmissionRow,
  AdmissionTarget,
} from './admission.js';
import { ms } from './stats.js';

/** CPU of every other process on the machine (API server, registry, anything else running), % of one core. */
export function othersCpuPercent(r: AdmissionRow, cores: number): number {
  return Math.max(0, r.machineBusyPercent * cores - r.operatorCpuPercent - r.clientCpuPercent);
}

/** Every request must have been answered, admitted and judged by the bench policy, or the figures are void. */
function incomplete(r: AdmissionRow): string {
  return r.failed === 0 && r.policyAllows === r.sent
    ? ''
    : `; ${String(r.failed)} failed, ${String(r.policyAllows)} of ${String(r.sent)} judged Allow by the policy`;
}

export function admissionTargets(
  judged: readonly AdmissionRow[],
  fresh: AdmissionBenchResult['newDigest'],
  options: AdmissionBenchOptions,
  cores: number,
): AdmissionTarget[] {
  const f = (n: number): string => n.toFixed(1);
  const others = (r: AdmissionRow): string =>
    `; other processes meanwhile ${othersCpuPercent(r, cores).toFixed(0)} % of a core`;
  const targets: AdmissionTarget[] = judged.map((r) => ({
    name: `judged digest, ${r.kind}, sent at ${String(options.rate)}/s: p99 < 25 ms and ≥ 500 answers/s`,
    met: r.p99Ms < 25 && r.achievedPerSecond >= 500 && incomplete(r) === '',
    detail: `p99 ${f(r.p99Ms)} ms, ${f(r.achievedPerSecond)} answers/s${incomplete(r)}${others(r)}`,
  }));
  targets.push({
    name: 'new signed digest: one admission no slower than one cosign verify (p50 and p99)',
    met: fresh.p50Ms <= fresh.cosignMedianMs && fresh.p99Ms <= fresh.cosignP99Ms && incomplete(fresh) === '',
    detail: `p50 ${f(fresh.p50Ms)} ms vs cosign ${f(fresh.cosignMedianMs)} ms, p99 ${f(fresh.p99Ms)} ms vs cosign ${f(fresh.cosignP99Ms)} ms${incomplete(fresh)}${others(fresh)}`,
  });
  return targets;
}

function row(label: string, r: AdmissionRow, cores: number): string {
  const pct = (n: number): string => `${n.toFixed(0)} %`;
  return [
    `  ${label.padEnd(27)}`,
    `${String(r.ratePerSecond)}/s`.padStart(6),
    String(r.sent).padStart(6),
    r.achievedPerSecond.toFixed(1).padStart(8),
    ms(r.p50Ms).padStart(9),
    ms(r.p99Ms).padStart(9),
    ms(r.maxMs).padStart(9),
    ms(r.serverMeanMs).padStart(9),
    pct(r.operatorCpuPercent).padStart(6),
    pct(r.clientCpuPercent).padStart(6),
    ms(r.sendLagP99Ms).padStart(9),
    ms(r.clientStallMaxMs).padStart(9),
    pct(othersCpuPercent(r, cores)).padStart(6),
    String(r.newConnections).padStart(5),
    String(r.registryRequests).padStart(6),
    r.failed === 0 ? '' : `  ${String(r.failed)} FAILED: ${r.failures.join(' | ')}`,
  ].join(' ');
}

/** The lines `npm run bench` prints for the admission benchmark. */
export function admissionLines(result: AdmissionBenchResult): string[] {
  const n = result.newDigest;
  return [
    '',
    `admission webhook: sigwatch run (dist/) on HTTPS loopback, AdmissionReview v1 sent open loop (latency from each scheduled send); ${String(result.cores)} cores shared by this client, the operator, kube-apiserver, etcd and the registry`,
    '  request                       rate   sent answers/s      p50       p99       max   op.mean op.CPU cl.CPU  lag p99  stall max others conns  reg.req',
    ...result.judged.map((r) => row(`judged digest, ${r.kind}`, r, result.cores)),
    ...(result.headroom === undefined ? [] : [row('judged, Pod (headroom)', result.headroom, result.cores)]),
    row('new signed digest, Pod', n, result.cores),
    `  cosign verify --key … --insecure-ignore-tlog, one cold run per image of the same ${String(n.sent)}: median ${ms(n.cosignMedianMs)}, p99 ${ms(n.cosignP99Ms)}; registry requests per image ${n.cosignRequestsPerImage.toFixed(1)} (admission ${(n.registryRequests / n.sent).toFixed(1)})`,
    "  (op.mean: the operator's own time per validation; op./cl.CPU: operator and client CPU, % of one core; lag: how late",
    '  the client sent; stall: its longest event-loop block; others: every other process on the machine, % of one core; conns: new',
    '  TLS connections; reg.req: registry requests by the operator)',
    ...result.targets.map((t) => `  ${t.met ? 'target met' : 'TARGET MISSED'}: ${t.name} — ${t.detail}`),
  ];
}
