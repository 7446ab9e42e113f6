/**
 * The query benchmark's databases, kept between runs in the temp directory: building 10M events
 * and rolling their closed days up takes minutes, measuring them does not. An entry is a
 * Miniflare persistence root (D1's SQLite file, the ProjectDO's) with a `meta.json` of what the
 * bench needs to use it again (ids, the read key, the secrets its key was stored with), published
 * by a rename once complete: an interrupted build leaves no entry, only a `.building` directory the
 * next build of that kind deletes.
 *
 * An entry is found by a key made of everything that decides its content — the generator's source,
 * the migrations, the Worker code that writes events and rollups, the size — so a change to any of
 * it builds a new one, and the old one is deleted.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trackDirectory } from './cleanup.ts';
import { ROOT } from './stack.ts';

const CACHE_ROOT = path.join(os.tmpdir(), 'tally-bench-cache');

/** What decides the raw events: the generator, ingest's enrichment of each event, the tables. */
export const EVENT_SOURCES = [
  'bench/events.ts',
  'bench/rows.ts',
  'bench/dataset.ts',
  'worker/src/ingest/enrich.ts',
  'migrations',
];

/**
 * What writes the stored rows besides the generator: the store, the rollups and the SQL they share,
 * the catalog of dimensions. The read path (`worker/src/query`) is left out on purpose: changing it
 * is what the bench is run for, and it writes nothing.
 */
export const WRITER_SOURCES = [
  'worker/src/rollup',
  'worker/src/stats',
  'worker/src/store',
  'worker/src/shared',
  'worker/src/db',
  'worker/src/cron.ts',
  'sdk/src/catalog.ts',
];

function filesUnder(relative: string): string[] {
  const full = path.join(ROOT, relative);
  if (!statSync(full).isDirectory()) return [relative];
  return readdirSync(full)
    .sort()
    .flatMap((name) => filesUnder(path.join(relative, name)));
}

/** A short hash of source files and directories (their paths and contents) and of `extra`. */
export function cacheKey(sources: readonly string[], extra: readonly (string | number)[]): string {
  const hash = createHash('sha256');
  for (const file of sources.flatMap(filesUnder)) hash.update(`${file}\0`).update(readFileSync(path.join(ROOT, file)));
  hash.update(extra.join('\0'));
  return hash.digest('hex').slice(0, 16);
}

/** A cache entry: its directory and what its builder recorded. */
export interface CacheEntry<T> {
  dir: string;
  meta: T;
  /** Whether this run built it. */
  built: boolean;
}

/**
 * The entry `kind`-`key`, built by `build` (into an empty directory it returns the meta of) when
 * it is not there or not `usable` any more. Other entries of the same kind are deleted first: they
 * are of older code, and each holds gigabytes.
 */
export async function cached<T>(
  kind: string,
  key: string,
  build: (dir: string) => Promise<T>,
  usable: (meta: T) => boolean = () => true,
): Promise<CacheEntry<T>> {
  const dir = path.join(CACHE_ROOT, `${kind}-${key}`);
  const metaFile = path.join(dir, 'meta.json');
  if (existsSync(metaFile)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as T;
    if (usable(meta)) return { dir, meta, built: false };
  }
  mkdirSync(CACHE_ROOT, { recursive: true });
  for (const name of readdirSync(CACHE_ROOT)) {
    if (name.startsWith(`${kind}-`)) rmSync(path.join(CACHE_ROOT, name), { recursive: true, force: true });
  }
  const staging = `${dir}.building`;
  mkdirSync(staging);
  trackDirectory(staging);
  const meta = await build(staging);
  writeFileSync(path.join(staging, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  renameSync(staging, dir);
  return { dir, meta, built: true };
}

/** Update an entry's meta (what a run learnt that the next run can use). */
export function updateMeta<T>(entry: CacheEntry<T>, meta: T): void {
  writeFileSync(path.join(entry.dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  entry.meta = meta;
}

/** Delete an entry that could not be brought up to date: the next run builds it afresh. */
export function discard(entry: CacheEntry<unknown>): void {
  rmSync(entry.dir, { recursive: true, force: true });
}

/** A copy of an entry's databases for one run to change (the entry stays as built). */
export function copyEntry(entry: CacheEntry<unknown>, to: string): void {
  cpSync(entry.dir, to, { recursive: true, filter: (source) => path.basename(source) !== 'meta.json' });
}
