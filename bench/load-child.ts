/**
 * The load generator, run as its own Node process (`load.ts` forks it) so that it never shares an
 * event loop with the harness. Two drivers, both over a pool of realistic requests:
 *
 * - saturation: autocannon, each connection sending its next request when the last is answered;
 * - a fixed rate: an open-loop sender that starts request n at exactly start + n / rate and times
 *   it from that instant, so waiting for a free connection counts as latency. (autocannon's
 *   `overallRate` is a per-second quota per connection: it sends each second's requests in one
 *   burst, which measures queueing in the burst rather than latency at a steady rate.)
 *
 * A warm-up runs first against another project. The measured run sends a fixed number of requests
 * and waits for every answer, so no request is in flight when it ends and each 2xx is an event
 * known to be accepted. Latencies are kept per 2xx response, with sub-millisecond precision.
 */
import http from 'node:http';
import autocannon from 'autocannon';
import { type WireRequest, wireRequests } from './events.ts';

/** What the parent asks for. */
export interface LoadConfig {
  origin: string;
  path: string;
  siteKey: string;
  /** The warm-up's events go to another project, so that the measured project's count is exact. */
  warmupSiteKey: string;
  eventsPerRequest: number;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** A fixed request rate (requests/s); unset means as fast as the server answers. */
  fixedRate?: number;
  seed: number;
}

/** What the child reports. */
export interface LoadResult {
  seconds: number;
  /** 2xx responses per second. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  statusCodes: Record<string, number>;
  p50: number | null;
  p99: number | null;
  mean: number | null;
  /** 2xx responses during the warm-up (sent to the warm-up project). */
  warmupOk: number;
  /** A fixed-rate run stopped early: the server fell more than 3 s behind the rate. */
  overloaded: boolean;
}

/** Messages to the parent. */
export type LoadMessage =
  | { type: 'tick'; stage: Stage; second: number; requests: number }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };

type Stage = 'warmup' | 'measure';

/** One run's raw outcome. */
interface Run {
  ok: number;
  errors: number;
  statusCodes: Record<string, number>;
  latencies: number[];
  seconds: number;
  /** A fixed-rate run stopped sending because the server fell behind. */
  overloaded: boolean;
}

const POOL = 4_096;

function send(message: LoadMessage): void {
  process.send?.(message);
}

/** Progress ticks once a second while a run lasts. */
function ticker(stage: Stage, requests: () => number): () => void {
  let second = 0;
  const timer = setInterval(() => send({ type: 'tick', stage, second: ++second, requests: requests() }), 1_000);
  return () => clearInterval(timer);
}

/** Saturation: `amount` requests (or `seconds` of them) over `connections`, closed loop. */
async function saturate(config: LoadConfig, pool: WireRequest[], stage: Stage, seconds: number, amount?: number) {
  let next = 0;
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const instance = autocannon({
    url: `${config.origin}${config.path}`,
    connections: config.connections,
    ...(amount ? { amount } : { duration: seconds }),
    timeout: 30,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const picked = pool[next++ % POOL] as WireRequest;
          return { ...request, method: 'POST', headers: picked.headers, body: picked.body };
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
  });
  const stop = ticker(stage, () => next);
  const started = performance.now();
  const result = await instance;
  stop();
  // autocannon's own `duration` is counted in whole ticks; the rate needs the real wall time.
  return {
    ok: result['2xx'],
    errors: result.errors,
    statusCodes,
    latencies,
    seconds: (performance.now() - started) / 1000,
    overloaded: false,
  } satisfies Run;
}

/** A fixed rate, open loop: request n starts at start + n / rate, on at most `connections` sockets. */
function steady(config: LoadConfig, pool: WireRequest[], stage: Stage, seconds: number, rate: number): Promise<Run> {
  const url = new URL(`${config.origin}${config.path}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections });
  let total = Math.round(rate * seconds);
  const interval = 1_000 / rate;
  const run: Run = { ok: 0, errors: 0, statusCodes: {}, latencies: [], seconds: 0, overloaded: false };
  let sent = 0;
  let finished = 0;
  const stop = ticker(stage, () => sent);
  return new Promise((resolve) => {
    const start = performance.now();
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      stop();
      agent.destroy();
      run.seconds = (performance.now() - start) / 1000;
      resolve(run);
    };
    const done = () => {
      if (++finished >= total && sent >= total) finish();
    };
    const fire = (request: WireRequest, scheduled: number) => {
      const outgoing = http.request(
        { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: request.headers },
        (response) => {
          response.resume();
          response.on('end', () => {
            const code = response.statusCode ?? 0;
            run.statusCodes[code] = (run.statusCodes[code] ?? 0) + 1;
            if (code >= 200 && code < 300) {
              run.ok++;
              run.latencies.push(performance.now() - scheduled);
            }
            done();
          });
        },
      );
      outgoing.setTimeout(30_000, () => outgoing.destroy(new Error('timeout')));
      outgoing.on('error', () => {
        run.errors++;
        done();
      });
      outgoing.end(request.body);
    };
    const tick = () => {
      // NOTE: a server that cannot keep the rate would make the run last for ever; once three
      // seconds of requests wait unanswered, sending stops and the run reports an overload.
      if (sent - finished > rate * 3) {
        run.overloaded = true;
        total = sent;
        if (finished >= total) finish();
        return;
      }
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      for (; sent < due; sent++) fire(pool[sent % POOL] as WireRequest, start + sent * interval);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

function quantile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.BENCH_LOAD ?? '{}') as LoadConfig;
  const pools = {
    warmup: wireRequests(config.warmupSiteKey, POOL, config.eventsPerRequest, config.seed + 1),
    measure: wireRequests(config.siteKey, POOL, config.eventsPerRequest, config.seed),
  };
  let warmup: Run;
  let measured: Run;
  if (config.fixedRate) {
    warmup = await steady(config, pools.warmup, 'warmup', config.warmupSeconds, config.fixedRate);
    measured = await steady(config, pools.measure, 'measure', config.seconds, config.fixedRate);
  } else {
    warmup = await saturate(config, pools.warmup, 'warmup', config.warmupSeconds);
    const amount = Math.max(config.connections * 10, Math.round((warmup.ok / warmup.seconds) * config.seconds));
    measured = await saturate(config, pools.measure, 'measure', config.seconds, amount);
  }
  const latencies = measured.latencies.sort((a, b) => a - b);
  const total = Object.values(measured.statusCodes).reduce((sum, count) => sum + count, 0);
  send({
    type: 'result',
    result: {
      seconds: measured.seconds,
      rps: measured.ok / measured.seconds,
      ok: measured.ok,
      non2xx: total - measured.ok,
      errors: measured.errors,
      statusCodes: measured.statusCodes,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      mean: latencies.length ? latencies.reduce((sum, value) => sum + value, 0) / latencies.length : null,
      warmupOk: warmup.ok,
      overloaded: warmup.overloaded || measured.overloaded,
    },
  });
}

main()
  .catch((error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }))
  .finally(() => {
    // autocannon can leave keep-alive sockets open; the parent is waiting for our exit.
    setTimeout(() => process.exit(0), 100);
  });
