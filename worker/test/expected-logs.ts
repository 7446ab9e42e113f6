/**
 * The console lines a fault-injection test expects the Worker to log ("ProjectDO admit failed: …"):
 * `expectLogs` takes those lines, and only those, out of the output for the rest of the test and
 * hands them to the test to assert on. Any other line still reaches the console, so an unexpected
 * error stands out in `npm test`. (workerd's own report of a deliberate abort: deliberate-crash.ts.)
 */
import { onTestFinished, vi } from 'vitest';

/** What `expectLogs` collected: each swallowed call, its arguments joined by spaces. */
export interface ExpectedLogs {
  readonly lines: string[];
}

/**
 * Swallow the calls of `console[method]` whose text matches `pattern` until the current test ends;
 * pass every other call through.
 *
 * @example
 * ```ts
 * const logs = expectLogs('error', /^ProjectDO admit failed:/);
 * // … make the admission fail …
 * expect(logs.lines).toHaveLength(1);
 * ```
 */
export function expectLogs(method: 'error' | 'warn', pattern: RegExp): ExpectedLogs {
  const original = console[method].bind(console);
  const lines: string[] = [];
  const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
    const line = args.map(String).join(' ');
    if (pattern.test(line)) lines.push(line);
    else original(...args);
  });
  onTestFinished(() => spy.mockRestore());
  return { lines };
}
