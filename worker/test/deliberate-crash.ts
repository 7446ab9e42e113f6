/**
 * A ProjectDO that a test aborts on purpose is aborted with `DELIBERATE_CRASH` as its reason.
 * workerd then reports "uncaught exception … jsg.Error: <reason>" and, on the next line, its native
 * stack, outside any console a test could silence (the pool passes workerd's lines on to the
 * runner's stdout). vitest.config.ts drops exactly the reports that carry this reason, so any other
 * uncaught exception still shows. Imports nothing: vitest.config.ts reads it under Node.
 */

/** The reason a test gives `state.abort()`: it marks workerd's report of the abort as expected. */
export const DELIBERATE_CRASH = 'deliberate crash (a test aborting the ProjectDO)';

/** A stream as far as `write` goes (the test runner's stdout or stderr). */
interface Writable {
  write(chunk: unknown, ...rest: unknown[]): boolean;
}

/**
 * Drop the writes that name `DELIBERATE_CRASH`, each with the `stack:` line written right after it,
 * from `stream`; everything else is written unchanged.
 *
 * @example
 * ```ts
 * dropDeliberateCrashReports(process.stdout); // in vitest.config.ts
 * ```
 */
export function dropDeliberateCrashReports(stream: Writable): void {
  const write = stream.write.bind(stream);
  let afterReport = false;
  stream.write = (chunk: unknown, ...rest: unknown[]) => {
    const text = String(chunk);
    const report = text.includes(DELIBERATE_CRASH) || (afterReport && text.startsWith('stack: '));
    afterReport = text.includes(DELIBERATE_CRASH);
    if (!report) return write(chunk, ...rest);
    // Written, as far as the caller can tell: its callback (if any) still runs.
    const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    done?.();
    return true;
  };
}
