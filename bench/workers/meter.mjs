// Bench-only: the real Tally Worker bundle (imported as it is) with its D1 binding watched, to
// count what D1 reads for one API request. Rows read are D1's own `meta.rows_read` of every
// statement the request ran; statements run through `.raw()` or `.first()` carry no meta, so those
// SELECTs are run again with `.all()` (same SQL, same parameters) after the request has been timed.
// Headers: `x-bench-rows-read`, `x-bench-handler-ms` (the Worker's own time for the request, as
// workerd's clock sees it: it advances on I/O, and D1 calls are I/O), `x-bench-statements`.
import tally from './index.js';

const READ = /^\s*(?:--[^\n]*\n\s*)*(select|with)\b/i;

function watched(db, log) {
  const statements = new WeakMap();
  const count = (result) => {
    log.rowsRead += result?.meta?.rows_read ?? 0;
    return result;
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
            return count(await value.apply(target, args));
          };
        }
        if (key === 'raw' || key === 'first') {
          return (...args) => {
            log.statements++;
            log.unmetered.push({ sql, params });
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
    statements.set(proxy, statement);
    return proxy;
  };
  return new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') return (sql) => wrap(target.prepare(sql), sql, []);
      if (key === 'batch') {
        return async (list) => {
          log.statements += list.length;
          const results = await target.batch(list.map((item) => statements.get(item) ?? item));
          for (const result of results) count(result);
          return results;
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

export default {
  async fetch(request, env, ctx) {
    const log = { rowsRead: 0, statements: 0, unmetered: [] };
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
