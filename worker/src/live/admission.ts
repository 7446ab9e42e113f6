/**
 * The decisions of an admission, apart from the object that stores their outcome: visitor ids,
 * whether the token buckets allow the request, and which visit each event continues.
 */
import type { DropReason, PendingEvent, StoredEvent } from '../pipeline/messages.ts';
import { uuidv7 } from '../shared/ids.ts';
import { type Bucket, type RateLimits, refill, secondsUntil } from './rate-limit.ts';
import { visitorId } from './salts.ts';
import { continuesVisit, nextVisitStep, type VisitorState, type VisitorStore } from './sessions.ts';

/** One admission request: every event of one HTTP request, in order. */
export interface AdmitRequest {
  /** The Worker's clock when the request arrived (ms); sessions and buckets run on it. */
  now: number;
  project: { id: string; timezone: string; limits: RateLimits };
  /** Each event with its visitor's fingerprint: SHA-256 of IP and user agent, made in the Worker. */
  events: { fingerprint: string; event: PendingEvent }[];
  /** Events the Worker dropped before admission, to be counted (bots, spam, foreign hostnames). */
  drops?: Partial<Record<DropReason, number>>;
}

/** The answer to an admission: the stored events' ids, or a rate limit with its wait. */
export type AdmitResult =
  | { ok: true; ids: string[] }
  | { ok: false; reason: 'rate_limited'; scope: 'project' | 'visitor'; retryAfter: number };

export async function visitorIds(
  request: AdmitRequest,
  salts: { today: string; yesterday: string | null },
): Promise<Map<string, { today: string; yesterday: string | null }>> {
  const ids = new Map<string, { today: string; yesterday: string | null }>();
  for (const { fingerprint } of request.events) {
    if (ids.has(fingerprint)) continue;
    const today = await visitorId(salts.today, request.project.id, fingerprint);
    const yesterday = salts.yesterday ? await visitorId(salts.yesterday, request.project.id, fingerprint) : null;
    ids.set(fingerprint, { today, yesterday });
  }
  return ids;
}

/**
 * Each event's visitor state, found by today's visitor id. A visit that began before UTC
 * midnight is found by yesterday's id and moves to today's key, keeping the id its events carry
 * until it ends — so no number of midnights splits a visit.
 */
export function resolveVisitors(
  store: VisitorStore,
  request: AdmitRequest,
  ids: Map<string, { today: string; yesterday: string | null }>,
): { visitors: VisitorState[]; movedFrom: string[] } {
  const byFingerprint = new Map<string, VisitorState>();
  const movedFrom: string[] = [];
  const visitors = request.events.map(({ fingerprint, event }) => {
    const known = byFingerprint.get(fingerprint);
    if (known) return known;
    const id = ids.get(fingerprint) as { today: string; yesterday: string | null };
    let state = store.get(id.today);
    const carried = !state && id.yesterday ? store.get(id.yesterday) : null;
    if (carried && continuesVisit(carried.lastSeen, event.ts)) {
      movedFrom.push(carried.key);
      state = { ...carried, key: id.today };
    }
    state ??= {
      key: id.today,
      visitor: id.today,
      sessionId: '',
      lastSeen: 0,
      liveAt: 0,
      seq: 0,
      page: event.path,
      country: event.country,
      tokens: request.project.limits.visitorBurst,
      tokensAt: request.now,
    };
    byFingerprint.set(fingerprint, state);
    return state;
  });
  return { visitors, movedFrom };
}

/**
 * Take tokens for every event from the project's and each visitor's bucket, or none at all.
 * Visitor states are charged in place; the project's bucket after charging is returned.
 */
export function takeTokens(
  request: AdmitRequest,
  visitors: VisitorState[],
  saved: Bucket,
): { projectBucket: Bucket } | { denied: AdmitResult } {
  const { now, project } = request;
  const { projectRate, projectBurst, visitorRate, visitorBurst } = project.limits;
  const projectBucket = refill(saved, now, projectRate, projectBurst);
  const projectWait = secondsUntil(projectBucket, request.events.length, projectRate, projectBurst);
  if (projectWait > 0) return { denied: denial('project', projectWait) };

  const cost = new Map<VisitorState, number>();
  for (const state of visitors) cost.set(state, (cost.get(state) ?? 0) + 1);
  const refilled = new Map<VisitorState, Bucket>();
  for (const [state, count] of cost) {
    const bucket = refill({ tokens: state.tokens, at: state.tokensAt }, now, visitorRate, visitorBurst);
    const wait = secondsUntil(bucket, count, visitorRate, visitorBurst);
    if (wait > 0) return { denied: denial('visitor', wait) };
    refilled.set(state, bucket);
  }

  for (const [state, bucket] of refilled) {
    state.tokens = bucket.tokens - (cost.get(state) ?? 0);
    state.tokensAt = bucket.at;
  }
  return { projectBucket: { tokens: projectBucket.tokens - request.events.length, at: projectBucket.at } };
}

/**
 * Place each event in its visitor's visits, updating the states in place; returns the events as
 * stored, and per visitor (in order of first appearance) its events of the request.
 */
export function assignVisits(
  request: AdmitRequest,
  visitors: readonly VisitorState[],
): { stored: StoredEvent[]; byVisitor: Map<VisitorState, StoredEvent[]> } {
  const { now, project } = request;
  const byVisitor = new Map<VisitorState, StoredEvent[]>();
  const stored = request.events.map(({ event }, index): StoredEvent => {
    const state = visitors[index] as VisitorState;
    const step = nextVisitStep(state.seq ? state : null, event.ts, project.timezone, () => uuidv7(event.ts));
    // A new visit carries today's id, even if the last one carried yesterday's.
    if (step.isEntry) state.visitor = state.key;
    state.sessionId = step.sessionId;
    state.seq = step.seq;
    state.lastSeen = Math.max(step.isEntry ? event.ts : state.lastSeen, event.ts);
    // Presence is the server's clock: a client's may be minutes ahead or an hour behind.
    state.liveAt = now;
    state.page = event.path;
    state.country = event.country;
    const placed = {
      ...event,
      visitorId: state.visitor,
      sessionId: step.sessionId,
      seq: step.seq,
      isEntry: step.isEntry,
    };
    const events = byVisitor.get(state);
    if (events) events.push(placed);
    else byVisitor.set(state, [placed]);
    return placed;
  });
  return { stored, byVisitor };
}

function denial(scope: 'project' | 'visitor', seconds: number): AdmitResult {
  // A request larger than the burst can never pass; tell the client to wait a full minute.
  const retryAfter = Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 60;
  return { ok: false, reason: 'rate_limited', scope, retryAfter };
}
