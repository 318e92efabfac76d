/**
 * An open-loop HTTPS load generator: request i is sent at t0 + i / rate
 * whether or not earlier ones were answered, and its latency runs from that
 * scheduled moment to the end of its answer — so a server that falls behind
 * shows queueing in the latency instead of slowing the client down (a closed
 * loop, which waits for each answer, hides exactly that: "coordinated
 * omission"). The client's own lateness in sending is reported beside it so
 * a reader can tell a slow server from a starved client.
 *
 * Bodies are built before the clock starts; connections are kept alive in
 * one `https.Agent` with enough sockets for the requests in flight.
 */
import { Agent, request } from 'node:https';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { median, quantile } from './stats.js';

export interface Target {
  readonly port: number;
  readonly path: string;
  /** PEM of the CA the server's certificate must chain to. */
  readonly ca: string;
  /** The name the certificate must carry. */
  readonly servername: string;
}

export interface OpenLoopRun {
  readonly ratePerSecond: number;
  readonly sent: number;
  /** Answered 200 with the answer `check` wanted. */
  readonly ok: number;
  /** First few failures (status, wrong answer, error, timeout), for the output. */
  readonly failures: readonly string[];
  readonly failed: number;
  /** Scheduled send → end of answer, successful requests only. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Successful answers per second, from the first scheduled send to the last answer. */
  readonly achievedPerSecond: number;
  /** How late the client sent, scheduled → handed to the socket (p99): near 0 means it kept up. */
  readonly sendLagP99Ms: number;
  /** The client process's CPU while it ran, in % of one core. */
  readonly clientCpuPercent: number;
  /** The client's longest event-loop stall (ms): a stall delays sends and answers alike. */
  readonly clientStallMaxMs: number;
  /** Every process's CPU on the machine meanwhile, in % of all cores (the client and the server included). */
  readonly machineBusyPercent: number;
  /** Requests that had to open a new TLS connection (not reused from the pool). */
  readonly newConnections: number;
  readonly elapsedMs: number;
}

/** One request: the body to send, and whether the answer text is the right one. */
export interface Planned {
  readonly body: Buffer;
  readonly check: (answer: string) => boolean;
}

/** CPU time of all cores since boot (ms): busy and in all. */
function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** Sockets each agent has used so far: a socket not in it is a new TLS connection. */
const socketsSeen = new WeakMap<Agent, WeakSet<object>>();

/** The API server gives a webhook 10 s at most (timeoutSeconds); an answer later than that is a failure. */
const requestTimeoutMs = 10_000;

export function keepAliveAgent(target: Target, sockets: number): Agent {
  return new Agent({
    keepAlive: true,
    maxSockets: sockets,
    maxFreeSockets: sockets,
    ca: target.ca,
    servername: target.servername,
  });
}

function post(
  agent: Agent,
  target: Target,
  body: Buffer,
  seen: WeakSet<object>,
): Promise<{ status: number; text: string; fresh: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: target.port,
        path: target.path,
        method: 'POST',
        agent,
        servername: target.servername,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        signal: AbortSignal.timeout(requestTimeoutMs),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            fresh,
          });
        });
        res.on('error', reject);
      },
    );
    let fresh = false;
    req.on('socket', (socket) => {
      // A request queued in the agent gets a pooled socket without `reusedSocket`: identity tells.
      fresh = !seen.has(socket);
      seen.add(socket);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Opens every socket of the agent's pool before anything is timed, by
 * sending `plan` (one request per socket) all at once. A TLS handshake
 * blocks a Node client's event loop for milliseconds: opened on demand in
 * the middle of a run, after the slightest stall, they make the client
 * stall more and open more — measuring the client. An API server that has
 * been calling the webhook keeps its idle connections (Go's transport keeps
 * them per host), which is what this pool stands for.
 * @throws Error when a request fails
 */
export async function openPool(agent: Agent, target: Target, plan: readonly Planned[]): Promise<void> {
  const seen = socketsSeen.get(agent) ?? new WeakSet<object>();
  socketsSeen.set(agent, seen);
  await Promise.all(
    plan.map(async (p) => {
      const { status, text } = await post(agent, target, p.body, seen);
      if (status !== 200 || !p.check(text)) throw new Error(`HTTP ${String(status)}: ${text.slice(0, 300)}`);
    }),
  );
}

/** Sends `plan` at `ratePerSecond` through `agent`; never throws for a failed request (it is counted). */
export async function openLoop(
  agent: Agent,
  target: Target,
  plan: readonly Planned[],
  ratePerSecond: number,
): Promise<OpenLoopRun> {
  const intervalMs = 1000 / ratePerSecond;
  const latencies: number[] = [];
  const lags: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let lastAnswer = 0;
  let newConnections = 0;
  const seen = socketsSeen.get(agent) ?? new WeakSet<object>();
  socketsSeen.set(agent, seen);
  const stalls = monitorEventLoopDelay({ resolution: 1 });
  stalls.enable();
  const machine0 = machineTimes();
  const inFlight: Promise<void>[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 5;

  const fire = (i: number, due: number): void => {
    const p = plan[i];
    if (p === undefined) return;
    lags.push(performance.now() - due);
    inFlight.push(
      post(agent, target, p.body, seen).then(
        ({ status, text, fresh }) => {
          const end = performance.now();
          if (fresh) newConnections++;
          lastAnswer = Math.max(lastAnswer, end);
          if (status === 200 && p.check(text)) {
            latencies.push(end - due);
            return;
          }
          failed++;
          if (failures.length < 5) failures.push(`HTTP ${String(status)}: ${text.slice(0, 300)}`);
        },
        (error: unknown) => {
          failed++;
          if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error));
        },
      ),
    );
  };

  await new Promise<void>((resolve) => {
    let next = 0;
    const tick = (): void => {
      // Everything due by now goes out at once: a late timer does not thin the schedule.
      const now = performance.now();
      while (next < plan.length && t0 + next * intervalMs <= now) {
        fire(next, t0 + next * intervalMs);
        next++;
      }
      if (next >= plan.length) resolve();
      else setTimeout(tick, Math.max(0, t0 + next * intervalMs - performance.now()));
    };
    setTimeout(tick, 5);
  });
  await Promise.all(inFlight);
  const cpu = process.cpuUsage(cpu0);
  stalls.disable();
  const machine1 = machineTimes();
  const elapsedMs = Math.max(lastAnswer, performance.now()) - t0;
  return {
    ratePerSecond,
    sent: plan.length,
    ok: latencies.length,
    failed,
    failures,
    p50Ms: median(latencies),
    p99Ms: quantile(latencies, 0.99),
    maxMs: quantile(latencies, 1),
    // N requests fill N intervals: a server that answers at once scores exactly the rate.
    achievedPerSecond: latencies.length / ((lastAnswer - t0 + intervalMs) / 1000),
    sendLagP99Ms: quantile(lags, 0.99),
    clientCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    clientStallMaxMs: stalls.max / 1e6,
    machineBusyPercent: ((machine1.busy - machine0.busy) / (machine1.total - machine0.total)) * 100,
    newConnections,
    elapsedMs,
  };
}
