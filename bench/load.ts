/**
 * Runs one load (warm-up + measured run) in a forked Node process and waits for its report,
 * showing progress meanwhile. The child is registered for cleanup, so Ctrl-C stops it too.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trackChild } from './cleanup.ts';
import type { LoadConfig, LoadMessage, LoadResult } from './load-child.ts';
import { status } from './progress.ts';

const CHILD = fileURLToPath(new URL('./load-child.ts', import.meta.url));

/** Run a load against one socket; `name` labels the progress line. */
export function runLoad(phase: string, name: string, config: LoadConfig): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], {
      env: { ...process.env, BENCH_LOAD: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    trackChild(`load ${name}`, child);
    let tick: Extract<LoadMessage, { type: 'tick' }> | null = null;
    let result: LoadResult | null = null;
    let failure: string | null = null;
    const stop = status(phase, () => {
      if (!tick) return `${name}: starting`;
      const total = tick.stage === 'warmup' ? config.warmupSeconds : config.seconds;
      const rate = tick.second ? Math.round(tick.requests / tick.second) : 0;
      return `${name}: ${tick.stage} ${tick.second}/${total} s, ${rate.toLocaleString('en-US')} req/s`;
    });
    child.on('message', (message: LoadMessage) => {
      if (message.type === 'tick') tick = message;
      else if (message.type === 'result') result = message.result;
      else failure = message.message;
    });
    child.on('error', (error) => {
      stop();
      reject(new Error(`load ${name} could not run: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      stop();
      if (result) resolve(result);
      else reject(new Error(`load ${name} failed: ${failure ?? `exited with ${signal ?? code}`}`));
    });
  });
}
