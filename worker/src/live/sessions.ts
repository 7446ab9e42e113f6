/**
 * Visits (sessions) and live visitors, in the ProjectDO's SQLite storage with an in-memory copy
 * of the rows in use. One row per visitor seen in the last 30 minutes: its visit, the position of
 * its last event in that visit, the page it is on, and its rate-limit bucket.
 */

import { dayInTimeZone } from '../shared/time.ts';

/** A visit ends after 30 minutes without events (Plausible's and Google Analytics' rule). */
export const SESSION_TIMEOUT_MS = 30 * 60_000;

/**
 * Whether an event at `ts` is near enough to a visit's latest event (at `lastSeen`) to continue
 * it: docs/STATS.md allows "no gap of 30 minutes or more", so 29:59.999 continues and 30:00.000
 * does not. An event from before `lastSeen` (one that arrived late) is no gap.
 */
export function continuesVisit(lastSeen: number, ts: number): boolean {
  return ts - lastSeen < SESSION_TIMEOUT_MS;
}

/** A visitor counts as live for 5 minutes after its last event reached the server. */
export const LIVE_WINDOW_MS = 5 * 60_000;

/** A visitor's state. */
export interface VisitorState {
  /** Today's visitor id: what the row is found by. */
  key: string;
  /** The id the visit's events carry: today's, or the day's before for a visit that crossed midnight. */
  visitor: string;
  sessionId: string;
  /** Timestamp of the visit's latest event (ms): event time, which visits are cut by. */
  lastSeen: number;
  /**
   * Server time when the visitor's latest event was admitted (ms). Live presence counts from it:
   * event time comes from the client's clock, up to 5 minutes ahead or an hour behind.
   */
  liveAt: number;
  /** Events in the visit so far. */
  seq: number;
  page: string;
  country: string | null;
  /** The visitor's token bucket. */
  tokens: number;
  tokensAt: number;
}

interface Row extends Record<string, SqlStorageValue> {
  key: string;
  visitor: string;
  session_id: string;
  last_seen: number;
  seen_at: number;
  seq: number;
  page: string;
  country: string | null;
  tokens: number;
  tokens_at: number;
}

/** Where an event falls in its visitor's visits. */
export interface VisitStep {
  sessionId: string;
  seq: number;
  isEntry: boolean;
}

/**
 * The visit an event at `ts` belongs to: the visitor's current one, unless 30 minutes or more of
 * silence lie between its last event and this one, or a midnight of the project's timezone does.
 * Events that arrive out of order stay in the visit when they fall on its day.
 *
 * NOTE: ending visits at local midnight (as Google Analytics did) keeps every visit inside one
 * local day, which is what makes daily rollups add up exactly across any range of days.
 */
export function nextVisitStep(
  state: VisitorState | null,
  ts: number,
  timeZone: string,
  newSessionId: () => string,
): VisitStep {
  if (
    !state ||
    !continuesVisit(state.lastSeen, ts) ||
    dayInTimeZone(ts, timeZone) !== dayInTimeZone(state.lastSeen, timeZone)
  ) {
    return { sessionId: newSessionId(), seq: 1, isEntry: true };
  }
  return { sessionId: state.sessionId, seq: state.seq + 1, isEntry: false };
}

/**
 * Visitors held in memory as a complete copy of the table, at most (~300 bytes each, well inside
 * an object's 128 MB); an object that starts with more reads SQLite on a cache miss instead.
 */
const FULL_CACHE_ROWS = 50_000;

function stateOf(row: Row): VisitorState {
  return {
    key: row.key,
    visitor: row.visitor,
    sessionId: row.session_id,
    lastSeen: row.last_seen,
    liveAt: row.seen_at,
    seq: row.seq,
    page: row.page,
    country: row.country,
    tokens: row.tokens,
    tokensAt: row.tokens_at,
  };
}

/** Visitor rows, cached in memory, written through to SQLite. */
export class VisitorStore {
  private readonly cache = new Map<string, VisitorState>();
  /**
   * Whether the cache holds every stored row, so that a miss is an answer: most events come from
   * visitors not seen in the last 30 minutes, and each SELECT that finds nothing costs the object
   * a storage call. Set on first use when the table is small enough to hold in memory.
   */
  private complete: boolean | null = null;

  /**
   * Tables come from `migrateProjectStorage` (`schema.ts`). `fullCacheRows`: the most rows to hold
   * as a complete copy (tests lower it).
   */
  constructor(
    private readonly sql: SqlStorage,
    private readonly fullCacheRows = FULL_CACHE_ROWS,
  ) {}

  /** A visitor's state by today's (or yesterday's) visitor id, or null if it has none. */
  get(key: string): VisitorState | null {
    this.complete ??= this.loadAll();
    const cached = this.cache.get(key);
    if (cached || this.complete) return cached ?? null;
    const row = this.sql.exec<Row>('SELECT * FROM visitors WHERE key = ?', key).toArray()[0];
    if (!row) return null;
    const state = stateOf(row);
    this.cache.set(key, state);
    return state;
  }

  /** Read every row into the cache if there are at most `fullCacheRows`; whether it did. */
  private loadAll(): boolean {
    const { n } = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM visitors').one();
    if (n > this.fullCacheRows) return false;
    for (const row of this.sql.exec<Row>('SELECT * FROM visitors')) this.cache.set(row.key, stateOf(row));
    return true;
  }

  /** Store a visitor's state. */
  put(state: VisitorState): void {
    this.cache.set(state.key, state);
    this.sql.exec(
      `INSERT OR REPLACE INTO visitors
       (key, visitor, session_id, last_seen, seen_at, seq, page, country, tokens, tokens_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      state.key,
      state.visitor,
      state.sessionId,
      state.lastSeen,
      state.liveAt,
      state.seq,
      state.page,
      state.country,
      state.tokens,
      state.tokensAt,
    );
  }

  /** Forget one visitor row (a visit carried over midnight moves to today's key). */
  delete(key: string): void {
    this.cache.delete(key);
    this.sql.exec('DELETE FROM visitors WHERE key = ?', key);
  }

  /**
   * Forget visitors whose visit has ended (by event time) and who have left the live window (by
   * server time: a client clock an hour behind must not take a visitor off the live count);
   * returns how many remain.
   */
  prune(now: number): number {
    const cutoff = now - SESSION_TIMEOUT_MS;
    const liveSince = now - LIVE_WINDOW_MS;
    this.sql.exec('DELETE FROM visitors WHERE last_seen < ? AND seen_at < ?', cutoff, liveSince);
    for (const [key, state] of this.cache) {
      if (state.lastSeen < cutoff && state.liveAt < liveSince) this.cache.delete(key);
    }
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM visitors').one().n;
  }

  /**
   * Visitors whose latest event reached the server in the last 5 minutes, with their current pages and countries, most visited
   * first (visitors without a known country last, as `null`).
   */
  live(now: number): LiveSnapshot {
    const since = now - LIVE_WINDOW_MS;
    const pages = this.sql
      .exec<{ path: string; visitors: number }>(
        `SELECT page AS path, COUNT(*) AS visitors FROM visitors WHERE seen_at >= ?
         GROUP BY page ORDER BY visitors DESC, page LIMIT ?`,
        since,
        LIVE_LIST_LIMIT,
      )
      .toArray();
    const countries = this.sql
      .exec<{ country: string | null; visitors: number }>(
        `SELECT country, COUNT(*) AS visitors FROM visitors WHERE seen_at >= ?
         GROUP BY country ORDER BY visitors DESC, country IS NULL, country LIMIT ?`,
        since,
        LIVE_LIST_LIMIT,
      )
      .toArray();
    return { visitors: this.liveCount(now), pages, countries };
  }

  /** How many visitors sent an event in the last 5 minutes (server time). */
  liveCount(now: number): number {
    return this.sql
      .exec<{ n: number }>('SELECT COUNT(*) AS n FROM visitors WHERE seen_at >= ?', now - LIVE_WINDOW_MS)
      .one().n;
  }

  /** When the next live visitor leaves the 5-minute window (the count drops then), or null if none is live. */
  nextLiveExpiry(now: number): number | null {
    const oldest = this.sql
      .exec<{ t: number | null }>('SELECT MIN(seen_at) AS t FROM visitors WHERE seen_at >= ?', now - LIVE_WINDOW_MS)
      .one().t;
    return oldest === null ? null : oldest + LIVE_WINDOW_MS + 1;
  }
}

/** Pages and countries listed in the live view, at most. */
export const LIVE_LIST_LIMIT = 20;

/** Who is on the site now. */
export interface LiveSnapshot {
  visitors: number;
  pages: { path: string; visitors: number }[];
  countries: { country: string | null; visitors: number }[];
}
