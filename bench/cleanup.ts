/**
 * Everything the benchmark starts — workerd (through Miniflare), load-generator processes, the
 * bundler, temporary directories — is registered here and torn down in reverse order when the run
 * ends, fails, or is interrupted (Ctrl-C, SIGTERM). A benchmark that leaves a workerd holding a
 * port or a 5 GB database in /tmp behind would poison the next run on a shared machine.
 *
 * NOTE: Miniflare answers SIGINT/SIGTERM itself by killing workerd and calling `process.exit`
 * at once, so asynchronous teardown never gets its turn then. Every teardown that matters
 * therefore also has a synchronous form, run from the process's `exit` event.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

type Teardown = () => Promise<void> | void;

const teardowns: { name: string; run: Teardown; atExit?: () => void }[] = [];
let tearingDown: Promise<void> | null = null;

process.on('exit', () => {
  for (const entry of teardowns.splice(0).reverse()) {
    try {
      entry.atExit?.();
    } catch {
      // Best effort: the process is ending.
    }
  }
  killLeftoverChildren();
});

/**
 * Register a teardown; returns a function that runs it now (and unregisters it), for resources
 * whose life ends before the run's.
 *
 * @example
 * ```ts
 * const release = onCleanup('miniflare', () => mf.dispose());
 * await release(); // disposed now, not again at exit
 * ```
 */
export function onCleanup(name: string, run: Teardown, atExit?: () => void): () => Promise<void> {
  const entry = { name, run, ...(atExit ? { atExit } : {}) };
  teardowns.push(entry);
  return async () => {
    const index = teardowns.indexOf(entry);
    if (index === -1) return;
    teardowns.splice(index, 1);
    await run();
  };
}

/** A child process killed at cleanup if it still runs (SIGTERM, then SIGKILL after 3 s). */
export function trackChild(name: string, child: ChildProcess): void {
  const release = onCleanup(
    name,
    () => stopChild(child),
    () => child.kill('SIGKILL'),
  );
  child.once('exit', () => void release());
}

/** Stop a child and wait for it to exit. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** A directory removed at cleanup. */
export function trackDirectory(path: string): () => Promise<void> {
  const remove = () => rmSync(path, { recursive: true, force: true });
  return onCleanup(`rm ${path}`, remove, remove);
}

/** Run every registered teardown, newest first; each runs even if another fails. Idempotent. */
export function cleanupAll(): Promise<void> {
  tearingDown ??= (async () => {
    while (teardowns.length) {
      const entry = teardowns.pop() as (typeof teardowns)[number];
      try {
        await Promise.race([entry.run(), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
      } catch (error) {
        console.error(`cleanup of ${entry.name} failed:`, error instanceof Error ? error.message : error);
      }
    }
    killLeftoverChildren();
  })();
  return tearingDown;
}

/**
 * Last resort: any process still parented by this one (a workerd whose Miniflare did not exit
 * cleanly) is killed by its pid. Only our own children are ever touched.
 */
export function killLeftoverChildren(): number[] {
  let pids: number[] = [];
  try {
    const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    pids = out
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  } catch {
    // `ps` exits 1 when no process matches.
  }
  // The `ps` we just ran is gone by now; anything else listed is ours and still alive.
  const killed: number[] = [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      // Already gone.
    }
  }
  return killed;
}

/**
 * Run `main` with cleanup on every way out: normal end, thrown error, SIGINT, SIGTERM, SIGHUP.
 * A second Ctrl-C while cleaning up exits at once.
 */
export async function withCleanup(main: () => Promise<number>): Promise<never> {
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      console.error(`\n${signal}: stopping the benchmark and cleaning up…`);
      void cleanupAll().then(() => process.exit(130));
    });
  }
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    if (!interrupted) {
      console.error('\n✖ benchmark failed:', error instanceof Error ? (error.stack ?? error.message) : error);
      if (error instanceof Error && error.cause) console.error('  cause:', error.cause);
    }
  }
  await cleanupAll();
  // NOTE: while a signal handler is cleaning up, it decides the exit code.
  if (interrupted) await new Promise(() => undefined);
  process.exit(code);
}
