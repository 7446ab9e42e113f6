/**
 * The D1 pool as wrangler.toml declares it (`[[d1_databases]]`: `DB`, `DB_1`, …): read by
 * `npm run deploy` (creates and migrates each) and `npm run dev` (migrates each locally), so a
 * project placed on any database of the pool finds its tables.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './run.ts';

/** A database of the pool. */
export interface PoolDatabase {
  binding: string;
  name: string;
  id: string;
}

/** The pool's databases, in the order wrangler.toml lists them. */
export function poolDatabases(config = readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8')): PoolDatabase[] {
  return config
    .split(/^\[\[d1_databases\]\]\s*$/m)
    .slice(1)
    .map((block) => ({
      binding: block.match(/^\s*binding\s*=\s*"([^"]*)"/m)?.[1] ?? '',
      name: block.match(/^\s*database_name\s*=\s*"([^"]*)"/m)?.[1] ?? '',
      id: block.match(/^\s*database_id\s*=\s*"([^"]*)"/m)?.[1] ?? '',
    }));
}
