// Bench-only: the real Tally Worker bundle (imported as it is) with its D1 binding watched, to
// count what D1 reads for one API request. Rows read are D1's own `meta.rows_read` of every
// statement the request ran; statements run through `.raw()` or `.first()` carry no meta, so those
// SELECTs are run again with `.all()` (same SQL, same parameters) after the request has been timed.
// Headers: `x-bench-rows-read`, `x-bench-handler-ms` (the Worker's own time for the request, as
// workerd's clock sees it: it advances on I/O, and D1 calls are I/O), `x-bench-statements`.
//
// POST env.BENCH_CRON_PATH {scheduledTime} runs Tally's scheduled handler (the cron) with the same
// watched D1 and answers with its time, D1's rows read and written, and its longest D1 call: D1
// refuses a statement that runs past 30 s, and a local run has no such limit, so the bench has to
// look for itself. A batch is timed as one call (it is one transaction); its statements are shorter.
import tally from './index.js';

const READ = /^\s*(?:--[^\n]*\n\s*)*(select|with)\b/i;

function watched(db, log) {
  const statements = new WeakMap();
  const count = (result) => {
    log.rowsRead += result?.meta?.rows_read ?? 0;
    log.rowsWritten += result?.meta?.rows_written ?? 0;
    return result;
  };
  const timed = async (sql, call) => {
    const started = Date.now();
    try {
      return await call();
    } finally {
      const ms = Date.now() - started;
      if (ms > log.longestMs) {
        log.longestMs = ms;
        log.longestSql = sql.replace(/\s+/g, ' ').trim().slice(0, 120);
      }
    }
  };
  const wrap = (statement, sql, params) => {
    const proxy = new Proxy(statement, {
      get(target, key) {
        if (key === 'bind') return (...values) => wrap(target.bind(...values), sql, values);
        const value = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        if (key === 'all' || key === 'run') {
          return async (...args) => {
            log.statements++;
            return count(await timed(sql, () => value.apply(target, args)));
          };
        }
        if (key === 'raw' || key === 'first') {
          return (...args) => {
            log.statements++;
            log.unmetered.push({ sql, params });
            return timed(sql, () => value.apply(target, args));
          };
        }
        return value.bind(target);
      },
    });
    statements.set(proxy, { statement, sql });
    return proxy;
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (sql) => wrap(target.prepare(sql), sql, []);
      if (key === 'batch') {
        return async (list) => {
          log.statements += list.length;
          const first = statements.get(list[0])?.sql ?? '';
          const results = await timed(`batch of ${list.length}: ${first}`, () =>
            target.batch(list.map((item) => statements.get(item)?.statement ?? item)),
          );
          for (const result of results) count(result);
          return results;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function newLog() {
  return { rowsRead: 0, rowsWritten: 0, statements: 0, unmetered: [], longestMs: 0, longestSql: '' };
}

async function cron(request, env, ctx) {
  const { scheduledTime } = await request.json();
  const log = newLog();
  const started = Date.now();
  let outcome = 'ok';
  try {
    const controller = { scheduledTime, cron: '*/5 * * * *', noRetry() {} };
    await tally.scheduled(controller, { ...env, DB: watched(env.DB, log) }, ctx);
  } catch (error) {
    outcome = error instanceof Error ? error.message : String(error);
  }
  const { rowsRead, rowsWritten, statements, longestMs, longestSql } = log;
  return Response.json({ ms: Date.now() - started, outcome, rowsRead, rowsWritten, statements, longestMs, longestSql });
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === env.BENCH_CRON_PATH) return cron(request, env, ctx);
    const log = newLog();
    const started = Date.now();
    const response = await tally.fetch(request, { ...env, DB: watched(env.DB, log) }, ctx);
    const body = await response.arrayBuffer();
    const handlerMs = Date.now() - started;
    for (const { sql, params } of log.unmetered) {
      if (!READ.test(sql)) continue;
      const { meta } = await env.DB.prepare(sql)
        .bind(...params)
        .all();
      log.rowsRead += meta.rows_read ?? 0;
    }
    const headers = new Headers(response.headers);
    headers.set('x-bench-rows-read', String(log.rowsRead));
    headers.set('x-bench-handler-ms', String(handlerMs));
    headers.set('x-bench-statements', String(log.statements));
    return new Response(body, { status: response.status, headers });
  },
};
