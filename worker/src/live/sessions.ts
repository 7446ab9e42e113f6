/**
 * Visits (sessions) and live visitors: per visitor seen in the last 30 minutes, its visit, the
 * position of its last event in that visit, the page it is on, and its rate-limit bucket. Held in
 * memory; each admission's log row (`log.ts`) is what survives a restart.
 */

import { dayInTimeZone } from '../shared/time.ts';
import type { AdmissionLog, LogEntry } from './log.ts';
import type { Bucket } from './rate-limit.ts';

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

/** A visitor's state as a log row keeps it (`log.ts`), with the project's bucket after the same request. */
interface StoredState extends Omit<VisitorState, 'key'> {
  project?: Bucket;
}

/** A log row's `state`: the visitor's state after the request, and the project's bucket. */
export function encodeState(state: VisitorState, project: Bucket): string {
  const { key: _key, ...rest } = state;
  return JSON.stringify({ ...rest, project } satisfies StoredState);
}

/** The visitor state and project bucket a log row's `state` holds. */
export function decodeState(key: string, json: string): { state: VisitorState; project: Bucket | null } {
  const { project, ...rest } = JSON.parse(json) as StoredState;
  return { state: { ...rest, key }, project: project ?? null };
}

/** Visitor states dropped from memory at most this often (a walk over all of them). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Visitor states held in memory at most (≈ 20 MB); the least recently admitted go first, and are
 * found in the log again if they come back. NOTE: the live view counts only the states held, so a
 * project with more visitors live in 5 minutes than this undercounts them: it should shard.
 */
export const MAX_STATES = 50_000;

/**
 * Visitor states, in memory. Every admission writes its visitors' states to the log (`log.ts`),
 * so memory is only lost with the object, or let go past {@link MAX_STATES}: a visitor not in memory
 * is then looked up by key in the log (a seek per generation, never a scan), and after a restart
 * the live view reads the last minutes' rows once when it is first asked for (`restore`).
 */
export class VisitorStore {
  private readonly states = new Map<string, VisitorState>();
  /** The id of each visitor's latest log row: a new row's id must be larger. */
  private readonly rows = new Map<string, number>();
  /** Whether the live visitors of the log's older rows are in memory. */
  private liveRestored = false;
  /** Whether a state this object wrote was let go (past `maxStates`): a miss must look in all the log. */
  private letGo = false;
  private prunedAt = 0;

  constructor(
    private readonly log: AdmissionLog,
    private readonly maxStates = MAX_STATES,
  ) {}

  /** A visitor's state by today's (or yesterday's) visitor id, or null if it has none. */
  get(key: string): VisitorState | null {
    const known = this.states.get(key);
    if (known || (!this.letGo && !this.log.hasOlder())) return known ?? null;
    const row = this.log.latest(key, this.letGo);
    if (!row) return null;
    const { state } = decodeState(key, row.state);
    this.hold(state, row.id);
    return state;
  }

  /** The id of a visitor's latest log row (0 when it has none). */
  rowId(key: string): number {
    return this.rows.get(key) ?? 0;
  }

  /** Keep a visitor's state, written by the admission as the log row `rowId`. */
  put(state: VisitorState, rowId: number): void {
    this.hold(state, rowId);
  }

  /** Forget one visitor (a visit carried over midnight moves to today's key). */
  delete(key: string): void {
    this.states.delete(key);
    this.rows.delete(key);
  }

  /** Whether the live view needs the log's older rows first ({@link restore}). */
  needsRestore(): boolean {
    return !this.liveRestored && this.log.hasOlder();
  }

  /** States memory has room for before it lets any go (what a restore reads at most). */
  room(): number {
    return Math.max(0, this.maxStates - this.states.size);
  }

  /**
   * Take the latest state of each visitor live at `now` from log entries of the last minutes
   * (`AdmissionLog.writtenSince`: a visitor's newest row is among them if it is live), keeping the
   * newer states memory already has. Entries are taken one at a time, so memory holds no more than
   * the states kept; they are held as less recent than this run's, in the order they were
   * admitted. A visit carried over midnight left its old key's row behind; its id is the one the
   * carried state's events carry, so that row is dropped.
   */
  restore(entries: Iterable<LogEntry>, now: number): void {
    const liveSince = now - LIVE_WINDOW_MS;
    const found = new Map<string, { state: VisitorState; id: number }>();
    for (const entry of entries) {
      const known = this.rows.get(entry.key) ?? found.get(entry.key)?.id;
      if (known !== undefined && known >= entry.id) continue;
      const { state } = decodeState(entry.key, entry.state);
      if (state.liveAt >= liveSince) found.set(entry.key, { state, id: entry.id });
    }
    // Rebuilt in admission order: the restored states first (the least recent), then this run's.
    const current = [...this.states.values()].map((state) => ({ state, id: this.rowId(state.key) }));
    this.states.clear();
    this.rows.clear();
    for (const { state, id } of [...[...found.values()].sort((a, b) => a.id - b.id), ...current]) {
      this.hold(state, id);
    }
    const carriedFrom = new Set<string>();
    for (const state of this.states.values()) if (state.visitor !== state.key) carriedFrom.add(state.visitor);
    for (const key of carriedFrom) this.delete(key);
    this.liveRestored = true;
  }

  /** Hold a state as the most recently admitted, letting the least recent go past `maxStates`. */
  private hold(state: VisitorState, rowId: number): void {
    // Deleted first, so that the map's order is the order of admission.
    this.states.delete(state.key);
    this.states.set(state.key, state);
    this.rows.set(state.key, rowId);
    for (const key of this.states.keys()) {
      if (this.states.size <= this.maxStates) break;
      this.delete(key);
      this.letGo = true;
    }
  }

  /**
   * Forget visitors whose visit has ended (by event time) and who have left the live window (by
   * server time: a client clock an hour behind must not take a visitor off the live count);
   * returns how many remain. Memory only; their rows go with their generation.
   */
  prune(now: number): number {
    if (now - this.prunedAt < PRUNE_EVERY_MS) return this.states.size;
    this.prunedAt = now;
    const cutoff = now - SESSION_TIMEOUT_MS;
    const liveSince = now - LIVE_WINDOW_MS;
    for (const [key, state] of this.states) {
      if (state.lastSeen < cutoff && state.liveAt < liveSince) {
        this.states.delete(key);
        this.rows.delete(key);
      }
    }
    return this.states.size;
  }

  /**
   * Visitors whose latest event reached the server in the last 5 minutes, with their current
   * pages and countries, most visited first (visitors without a known country last, as `null`).
   */
  live(now: number): LiveSnapshot {
    const pages = new Map<string, number>();
    const countries = new Map<string | null, number>();
    let visitors = 0;
    for (const state of this.liveStates(now)) {
      visitors++;
      pages.set(state.page, (pages.get(state.page) ?? 0) + 1);
      countries.set(state.country, (countries.get(state.country) ?? 0) + 1);
    }
    const byCount =
      <T>(order: (a: T, b: T) => number) =>
      (a: [T, number], b: [T, number]) =>
        b[1] - a[1] || order(a[0], b[0]);
    return {
      visitors,
      pages: [...pages]
        .sort(byCount<string>((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
        .slice(0, LIVE_LIST_LIMIT)
        .map(([path, count]) => ({ path, visitors: count })),
      countries: [...countries]
        .sort(byCount<string | null>((a, b) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0)))
        .slice(0, LIVE_LIST_LIMIT)
        .map(([country, count]) => ({ country, visitors: count })),
    };
  }

  /** How many visitors sent an event in the last 5 minutes (server time). */
  liveCount(now: number): number {
    let count = 0;
    for (const _ of this.liveStates(now)) count++;
    return count;
  }

  /** When the next live visitor leaves the 5-minute window (the count drops then), or null if none is live. */
  nextLiveExpiry(now: number): number | null {
    let oldest: number | null = null;
    for (const state of this.liveStates(now)) oldest = oldest === null ? state.liveAt : Math.min(oldest, state.liveAt);
    return oldest === null ? null : oldest + LIVE_WINDOW_MS + 1;
  }

  private *liveStates(now: number): Generator<VisitorState> {
    const since = now - LIVE_WINDOW_MS;
    for (const state of this.states.values()) if (state.liveAt >= since) yield state;
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
