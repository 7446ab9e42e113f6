/**
 * Progress while the benchmark runs: timestamped lines per step, a status line that refreshes
 * during long waits, and the run's time budget (the whole run must fit in 15 minutes, `--quick`
 * in 2), which phases consult before starting optional heavy work.
 */

const started = Date.now();
const tty = process.stdout.isTTY === true;
let statusShown = false;

function clock(): string {
  const seconds = Math.floor((Date.now() - started) / 1000);
  return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
}

function clearStatus(): void {
  if (statusShown) process.stdout.write('\r\x1b[2K');
  statusShown = false;
}

/** A progress line: `[mm:ss] phase  message`. */
export function log(phase: string, message: string): void {
  clearStatus();
  console.log(`[${clock()}] ${phase.padEnd(9)} ${message}`);
}

/**
 * Refresh a status line every second while a long step runs (on a terminal it is redrawn in
 * place; in a log file one line every 10 s). Returns a function that stops it.
 *
 * @example
 * ```ts
 * const stop = status('queries', () => `${done}/${total} queries`);
 * try { await work(); } finally { stop(); }
 * ```
 */
export function status(phase: string, describe: () => string): () => void {
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    if (tty) {
      process.stdout.write(`\r\x1b[2K[${clock()}] ${phase.padEnd(9)} ${describe()}`);
      statusShown = true;
    } else if (ticks % 10 === 0) {
      console.log(`[${clock()}] ${phase.padEnd(9)} ${describe()}`);
    }
  }, 1_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    clearStatus();
  };
}

/** The run's time budget. */
export class Budget {
  private deadline: number;
  readonly totalMs: number;

  constructor(totalMs: number) {
    this.totalMs = totalMs;
    this.deadline = started + totalMs;
  }

  /**
   * Give the run `ms` more: for one-time setup that later runs skip (building the cached query
   * dataset), so that a first run measures as much as the runs after it.
   */
  extend(ms: number): void {
    this.deadline += ms;
  }

  /** Milliseconds left before the run must end. */
  remaining(): number {
    return this.deadline - Date.now();
  }

  /** Whether work estimated at `ms` fits, keeping `reserveMs` for the steps after it. */
  allows(ms: number, reserveMs = 0): boolean {
    return ms + reserveMs <= this.remaining();
  }
}

/** Seconds since the run started. */
export function elapsedSeconds(): number {
  return (Date.now() - started) / 1000;
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
