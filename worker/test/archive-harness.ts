/**
 * What the archive's tests share: a pinned clock with one owner, the day 70 days back that they
 * archive, its objects in R2, a run's lease, and a D1 whose statements can be made to wait, so
 * that interleavings of runs, deletions, resets and purges are forced on the real bindings.
 */
import { env } from 'cloudflare:workers';
import { afterAll, beforeAll, beforeEach, vi } from 'vitest';
import { rollUpAll } from '../src/rollup/index.ts';
import { addDays, dayBounds, formatDate, localDate } from '../src/shared/calendar.ts';
import { type ArchiveLease, type ArchiveProject, claimArchiveLease } from '../src/store/index.ts';
import { event, type Owner, seed, signUp } from './query-oracle-harness.ts';

export const HOUR = 3_600_000;
/** The tests' now, and the calendar of their projects. */
export const NOW = Date.UTC(2031, 2, 11, 12);
export const TZ = 'Europe/Berlin';
/** The local date `n` days before now. */
export const daysAgo = (n: number, calendar = TZ) => addDays(localDate(NOW, calendar), -n);
/** The day the tests archive. */
export const LABEL = formatDate(daysAgo(70));

/**
 * Date pinned at {@link NOW} and one signed-up owner for a describe block; before each test every
 * project's hot window is 0, so that no other test's project eats a run's budget or is archived.
 */
export function archiveSuite(): { owner: () => Owner } {
  let owner: Owner | undefined;
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(NOW);
    owner = await signUp();
  });
  afterAll(() => vi.useRealTimers());
  beforeEach(async () => {
    await env.DB.prepare('UPDATE projects SET archive_hot_days = 0').run();
  });
  return {
    owner: () => {
      if (!owner) throw new Error('no owner before the suite started');
      return owner;
    },
  };
}

/** A project with `count` events on the day 70 days back, rolled up. */
export async function dayOf(owner: Owner, count: number, calendar = TZ) {
  const { start } = dayBounds(daysAgo(70, calendar), calendar);
  const events = Array.from({ length: count }, (_, i) =>
    event(new Date(start + HOUR + i * 1_000).toISOString(), { visitor_id: `v${i}`, session_id: `s${i}` }),
  );
  const projectId = await seed(calendar, events, [], owner);
  await rollUpAll(env, NOW);
  const project: ArchiveProject = { id: projectId, calendar };
  return { projectId, project, ids: events.map((e) => e.id) };
}

/** The keys of a project's objects in R2. */
export const keys = async (projectId: string) =>
  (await env.ARCHIVE.list({ prefix: `archive/${projectId}/` })).objects.map((object) => object.key);

/** A lease on a project's archive, as a run holds it. */
export async function leaseOn(projectId: string): Promise<ArchiveLease> {
  const lease = await claimArchiveLease(env.DB, projectId);
  if (!lease) throw new Error(`${projectId}: lease held`);
  return lease;
}

export type Hook = {
  match: (sql: string) => boolean;
  before?: (call: number) => Promise<void>;
  after?: (call: number) => Promise<void>;
};

/** A D1 whose statements matching a hook wait on it before and after they run (batches pass through). */
export function gated(db: D1Database, hooks: Hook[]): D1Database {
  return {
    prepare(sql: string) {
      const real = db.prepare(sql);
      const hook = hooks.find((h) => h.match(sql));
      if (!hook) return real;
      let calls = 0;
      const around = async <T>(run: () => Promise<T>): Promise<T> => {
        const call = calls++;
        await hook.before?.(call);
        const out = await run();
        await hook.after?.(call);
        return out;
      };
      const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
        ({
          bind: (...values: unknown[]) => wrap(statement.bind(...values)),
          all: () => around(() => statement.all()),
          run: () => around(() => statement.run()),
          first: (column?: string) =>
            around(() => (column === undefined ? statement.first() : statement.first(column))),
        }) as unknown as D1PreparedStatement;
      return wrap(real);
    },
    batch: (statements: D1PreparedStatement[]) => db.batch(statements),
  } as unknown as D1Database;
}

/** A D1 that runs `run` once, before or after the first statement whose SQL includes `sql`. */
export function once(db: D1Database, sql: string, when: 'before' | 'after', run: () => Promise<unknown>): D1Database {
  let done = false;
  const fire = async () => {
    if (done) return;
    done = true;
    await run();
  };
  return gated(db, [{ match: (text) => text.includes(sql), [when]: fire }]);
}
