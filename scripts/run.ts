/**
 * Running commands from the repository scripts (dev, deploy, check-types): capture a command's
 * output, stream it to the terminal, or keep a long-running child tied to this process.
 *
 * Every command runs from the repository root with `node_modules/.bin` first on PATH, so
 * `wrangler` resolves to the pinned one and its `#!/usr/bin/env node` finds the repo's Node 24
 * (the system Node may be 20, which wrangler refuses) even when a script is started by hand.
 */
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const BIN = path.join(ROOT, 'node_modules', '.bin');

/** The environment children get: ours, with the repo's `node_modules/.bin` first on PATH. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const current = process.env.PATH ?? '';
  const rest = current.split(path.delimiter).filter((entry) => entry !== BIN);
  return { ...process.env, ...extra, PATH: [BIN, ...rest].join(path.delimiter) };
}

/** What a finished command left behind. */
export interface Captured {
  /** Exit code; 1 when the command was killed by a signal or could not start. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Options shared by the runners. */
export interface RunOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory; the repository root by default. */
  cwd?: string;
  /**
   * Standard input. Defaults to `ignore`: wrangler then sees a non-interactive session and takes
   * the default answer instead of waiting on a prompt (e.g. "apply N migrations?").
   */
  stdin?: 'ignore' | 'inherit';
}

function spawnIn(command: string, args: readonly string[], stdio: StdioOptions, options: RunOptions): ChildProcess {
  return spawn(command, args, { cwd: options.cwd ?? ROOT, env: childEnv(options.env), stdio });
}

/** The command line as a user would type it, for logs and error messages. */
export function commandLine(command: string, args: readonly string[]): string {
  return [command, ...args].map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part}'`)).join(' ');
}

/**
 * Run a command and collect its output without printing it. Never rejects: a failure to start
 * is reported as exit code 1 with the error in `stderr`.
 *
 * @example
 * ```ts
 * const { code, stdout } = await capture('wrangler', ['d1', 'list', '--json']);
 * ```
 */
export function capture(command: string, args: readonly string[], options: RunOptions = {}): Promise<Captured> {
  return new Promise((resolve) => {
    const child = spawnIn(command, args, [options.stdin ?? 'ignore', 'pipe', 'pipe'], options);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (error) => resolve({ code: 1, stdout, stderr: `${stderr}${error.message}\n` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Run a command with its output going straight to the terminal; resolves with its exit code.
 * SIGINT/SIGTERM received meanwhile are passed on, so Ctrl+C stops the child, not just us.
 */
export function stream(command: string, args: readonly string[], options: RunOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawnIn(command, args, [options.stdin ?? 'ignore', 'inherit', 'inherit'], options);
    const release = forwardSignals(child);
    child.on('error', (error) => {
      release();
      console.error(`Could not start ${command}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      release();
      resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
    });
  });
}

/** Like `stream`, but a non-zero exit ends this process with that code after naming the command. */
export async function mustStream(command: string, args: readonly string[], options: RunOptions = {}): Promise<void> {
  const code = await stream(command, args, options);
  if (code !== 0) fail(`\`${commandLine(command, args)}\` exited with code ${code}.`, code);
}

/**
 * Start a long-running command (e.g. `wrangler dev`) with inherited output. Signals are passed on
 * and the child is killed when this process exits, so it never outlives us as an orphan holding a port.
 */
export function startChild(command: string, args: readonly string[], options: RunOptions = {}): ChildProcess {
  const child = spawnIn(command, args, [options.stdin ?? 'ignore', 'inherit', 'inherit'], options);
  forwardSignals(child);
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  process.on('exit', killOnExit);
  child.on('close', () => process.off('exit', killOnExit));
  return child;
}

/**
 * Pass SIGINT, SIGTERM and SIGHUP on to a child while it runs. Installing a listener also stops
 * Node from dying on the signal itself, so we live long enough to report the child's exit code.
 * Returns a function that removes the listeners.
 */
export function forwardSignals(child: ChildProcess): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const handlers = signals.map((signal) => {
    const handler = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/** The conventional number of a signal, for a shell-style `128 + n` exit code. */
function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

/** Print a step heading, so a long log shows where each stage starts. */
export function step(text: string): void {
  console.log(`\n▶ ${text}`);
}

/** Print an error and end the process. */
export function fail(message: string, code = 1): never {
  console.error(`\n✖ ${message}`);
  process.exit(code);
}

/**
 * Parse JSON that a CLI printed to stdout. Tolerates noise around it (a warning line, a banner)
 * by falling back to the outermost `[...]` or `{...}`.
 */
export function parseJsonOutput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    for (const [open, close] of [
      ['[', ']'],
      ['{', '}'],
    ] as const) {
      const start = text.indexOf(open);
      const end = text.lastIndexOf(close);
      if (start !== -1 && end > start) {
        try {
          return JSON.parse(text.slice(start, end + 1));
        } catch {
          // try the other bracket kind
        }
      }
    }
    throw new Error(`Expected JSON output, got:\n${text.slice(0, 2000)}`);
  }
}
