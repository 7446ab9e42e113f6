/**
 * Everything Tally has written down, as text to search: every cell of every D1 table, every row and
 * key of every ProjectDO's storage, and every console line. The privacy suite looks for IP addresses
 * in it (in every written form, below); the deletion checks look for a project's ids.
 */
import { listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { vi } from 'vitest';
import type { ProjectDO } from '../src/live/index.ts';

/** One stored value, lower-cased, and where it was found. */
export interface Cell {
  where: string;
  text: string;
}

function textOf(value: unknown): string {
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes =
      value instanceof ArrayBuffer
        ? new Uint8Array(value)
        : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    // Blobs both as UTF-8 and as hex, so that a packed address is found either way.
    return `${new TextDecoder().decode(bytes)} ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

function cellsOf(where: string, rows: Record<string, unknown>[]): Cell[] {
  return rows.flatMap((row, i) =>
    Object.entries(row).map(([column, value]) => ({
      where: `${where}[${i}].${column}`,
      text: textOf(value).toLowerCase(),
    })),
  );
}

/** Every cell of every D1 table (D1's own `_cf_` bookkeeping aside, which a Worker cannot read). */
export async function d1Cells(): Promise<Cell[]> {
  const { results: tables } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{
    name: string;
  }>();
  const cells: Cell[] = [];
  for (const { name } of tables) {
    if (name.startsWith('_cf_')) continue;
    const { results } = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
    cells.push(...cellsOf(`d1.${name}`, results));
  }
  return cells;
}

/** Every row of every table and every key-value entry of every ProjectDO this test file created. */
export async function durableObjectCells(): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const id of await listDurableObjectIds(env.PROJECT)) {
    const stub = env.PROJECT.get(id) as DurableObjectStub<ProjectDO>;
    const where = `do(${id.toString().slice(0, 8)})`;
    cells.push(
      ...(await runInDurableObject(stub, async (_instance, state) => {
        const sql = state.storage.sql;
        const tables = sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
          .toArray()
          .map((t) => t.name)
          .filter((name) => !name.startsWith('_cf_'));
        const rows = tables.flatMap((name) =>
          cellsOf(`${where}.${name}`, sql.exec(`SELECT * FROM "${name}"`).toArray()),
        );
        const kv = [...(await state.storage.list()).entries()].map(([key, value]) => ({ key, value }));
        return [...rows, ...cellsOf(`${where}.kv`, kv)];
      })),
    );
  }
  return cells;
}

/**
 * Capture every console line (log, info, warn, error, debug) from now on, as cells. The Worker runs
 * in this isolate, so its logs are these.
 */
export function captureConsole(): { cells: () => Cell[]; lines: () => number } {
  const lines: string[] = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((arg) => (arg instanceof Error ? `${arg.message} ${arg.stack}` : textOf(arg))).join(' '));
    });
  }
  return {
    cells: () => lines.map((line, i) => ({ where: `console[${i}]`, text: line.toLowerCase() })),
    lines: () => lines.length,
  };
}

/** Each needle found in a cell, as `needle in where`. */
export function findIn(cells: Cell[], needles: readonly string[]): string[] {
  const lower = needles.map((needle) => needle.toLowerCase());
  return cells.flatMap(({ where, text }) =>
    lower.filter((needle) => text.includes(needle)).map((n) => `${n} in ${where}`),
  );
}

/** SHA-256 of text, as lower-case hex (the form an unsalted hash would be stored in). */
export const sha256Hex = async (text: string) =>
  [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** An IPv4 address written every way a log or a column might hold it. `packed`: also as one number. */
export function ipv4Forms(ip: string, packed: boolean): string[] {
  const parts = ip.split('.').map(Number);
  const forms = [
    ip,
    `::ffff:${ip}`,
    `${[...parts].reverse().join('.')}.in-addr.arpa`,
    parts.map((p) => String(p).padStart(3, '0')).join('.'),
  ];
  if (packed) {
    const value = parts.reduce((n, p) => n * 256 + p, 0);
    forms.push(parts.map((p) => hex(p, 2)).join(''), String(value), btoa(String.fromCharCode(...parts)));
  }
  return forms;
}

/** The eight 16-bit groups of an IPv6 address in any textual form (with `::` or an IPv4 tail). */
function ipv6Groups(ip: string): number[] {
  const parse = (text: string) =>
    text
      ? text.split(':').flatMap((part) => {
          if (!part.includes('.')) return [Number.parseInt(part, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
          return [a * 256 + b, c * 256 + d];
        })
      : [];
  const [head = '', tail] = ip.split('::');
  const [h, t] = [parse(head), tail === undefined ? [] : parse(tail)];
  return [...h, ...Array(8 - h.length - t.length).fill(0), ...t];
}

/** An IPv6 address written every way: compressed, expanded, unpadded, as 32 hex digits, upper case. */
export function ipv6Forms(ip: string): string[] {
  const groups = ipv6Groups(ip);
  const full = groups.map((g) => hex(g, 4)).join(':');
  const bare = groups.map((g) => g.toString(16)).join(':');
  // RFC 5952: the longest run of two or more zero groups becomes `::`.
  const compressed = bare.replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:::+/, '::');
  return [ip, full, bare, compressed, full.replace(/:/g, ''), full.toUpperCase()];
}
