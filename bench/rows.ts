/**
 * Stored events in the events table's shape, as ingest, the ProjectDO and the consumer would have
 * written them: visits of one to a dozen events (entry first, `seq` from 1), a visitor id per
 * visitor and day, visits that never cross a UTC midnight (the project's timezone in the benchmark
 * is UTC).
 *
 * Each event starts as what a browser sends — the tracker's wire event, the user agent, `request.cf`
 * and `Accept-Language` — and ingest's own `enrichEvent` makes its columns; only what the ProjectDO
 * assigns (visitor, visit, sequence, entry) is added here. The columns come from the drizzle schema,
 * so a column added there and computed in enrich.ts is in the benchmark's data with no change here.
 */
import { getTableColumns } from 'drizzle-orm';
import { events } from '../worker/src/db/schema.ts';
import { enrichEvent, type VisitorContext } from '../worker/src/ingest/enrich.ts';
import type { ValidEvent } from '../worker/src/ingest/schema.ts';
import type { PendingEvent, StoredEvent } from '../worker/src/pipeline/messages.ts';
import {
  pickAgent,
  pickCampaign,
  pickCustom,
  pickLanguage,
  pickPage,
  pickPlace,
  pickReferrer,
  pickScreen,
  SITE_HOST,
} from './events.ts';

/** The events table's columns: drizzle key, SQL name, and whether SQLite stores it as 0/1. */
const COLUMNS = Object.entries(getTableColumns(events)).map(([key, column]) => ({
  key: key as keyof StoredEvent,
  name: column.name,
  boolean: column.dataType === 'boolean',
}));

/** The events table's columns, in the order of a row's values (checked against the live table). */
export const EVENT_COLUMNS: readonly string[] = COLUMNS.map((column) => column.name);

/** One event's values in `EVENT_COLUMNS` order, booleans as 0 and 1 (as SQLite binds them). */
export type Row = (string | number | null)[];

const TS = COLUMNS.findIndex((column) => column.key === 'ts');

export const DAY_MS = 86_400_000;

/** A unique id in UUIDv7's layout: the time first (so inserts stay local in the index), then a counter. */
function uuidAt(ts: number, n: number): string {
  const t = ts.toString(16).padStart(12, '0');
  const c = n.toString(16).padStart(15, '0');
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${c.slice(0, 3)}-8${c.slice(3, 6)}-${c.slice(6, 15)}000`;
}

function hex64(rand: () => number): string {
  return (
    Math.floor(rand() * 2 ** 32)
      .toString(16)
      .padStart(8, '0') +
    Math.floor(rand() * 2 ** 32)
      .toString(16)
      .padStart(8, '0')
  );
}

/** Counters shared across days so that ids stay unique in one dataset. */
export interface RowCounter {
  next: number;
}

/** A visitor of the day: the id the ProjectDO hashes, what the request says, the window width. */
interface Visitor {
  id: string;
  context: VisitorContext;
  /** The same without `Accept-Language`, whose columns come from `byLanguage`. */
  withoutLanguage: VisitorContext;
  width: number;
}

/** Per `Accept-Language` header, the columns it decides, as `enrichEvent` gave them. */
const byLanguage = new Map<string, Partial<PendingEvent>>();

/**
 * `enrichEvent`, with what the `Accept-Language` header decides cached per header: parsing it (an
 * `Intl.Locale` per event) was a third of the generator's time, and visitors send a handful of
 * headers. Which columns the header decides is found by enriching an event with and without it,
 * so they stay enrich.ts's own, whichever they are.
 * NOTE: this holds while those columns depend on the header alone, as `language` does.
 */
function enrich(event: ValidEvent, projectId: string, ts: number, receivedAt: number, visitor: Visitor): PendingEvent {
  const pending = enrichEvent(event, projectId, ts, receivedAt, visitor.withoutLanguage);
  let decided = byLanguage.get(visitor.context.acceptLanguage);
  if (!decided) {
    const full: Partial<PendingEvent> = enrichEvent(event, projectId, ts, receivedAt, visitor.context);
    decided = Object.fromEntries(
      Object.entries(full).filter(([key, value]) => value !== pending[key as keyof PendingEvent]),
    );
    byLanguage.set(visitor.context.acceptLanguage, decided);
  }
  return Object.assign(pending, decided);
}

/**
 * Events of one UTC day for a project, about `target` of them, sorted by time. One visit in four
 * comes from a visitor already seen that day. `span` (ms from `dayStart`) ends the day early: the
 * day in progress holds events only up to now, and a visit longer than what is left is compressed
 * to fit.
 */
export function dayRows(
  projectId: string,
  dayStart: number,
  target: number,
  rand: () => number,
  counter: RowCounter,
  span = DAY_MS,
): Row[] {
  const rows: Row[] = [];
  const visitors: Visitor[] = [];
  const origin = `https://${SITE_HOST}`;
  while (rows.length < target) {
    const returning = visitors.length > 0 && rand() < 0.25;
    let visitor = returning ? (visitors[Math.floor(rand() * visitors.length)] as Visitor) : null;
    if (!visitor) {
      const context = {
        userAgent: pickAgent(rand).ua,
        cf: pickPlace(rand).cf,
        acceptLanguage: pickLanguage(rand).header,
      };
      visitor = {
        id: hex64(rand),
        context,
        withoutLanguage: { ...context, acceptLanguage: '' },
        width: pickScreen(rand).width,
      };
      visitors.push(visitor);
    }

    // Visit length: geometric, mean ≈ 2.6 events; 40% are single-pageview visits (bounces).
    let length = 1;
    while (length < 12 && rand() > 0.4) length++;
    const gaps = Array.from({ length }, (_, i) => (i === 0 ? 0 : 5_000 + Math.floor(rand() * 150_000)));
    const visitMs = gaps.reduce((sum, gap) => sum + gap, 0);
    const fit = Math.min(1, (span - 1_000) / Math.max(1, visitMs));
    for (let i = 0; i < length; i++) gaps[i] = Math.floor((gaps[i] as number) * fit);
    let ts = dayStart + Math.floor(rand() * Math.max(1, span - visitMs * fit - 1_000));
    const sessionId = uuidAt(ts, counter.next++);

    // What the tracker sends: the landing page with its campaign query and the outside referrer;
    // each later page with the previous one as its (internal) referrer.
    let referrer: string | null = pickReferrer(rand).url;
    let url = `${origin}${pickPage(rand).path}${pickCampaign(rand).query}`;
    for (let seq = 1; seq <= length; seq++) {
      ts += gaps[seq - 1] as number;
      if (seq > 1) {
        referrer = url;
        url = `${origin}${pickPage(rand).path}`;
      }
      const custom = seq > 1 && rand() < 0.2 ? pickCustom(rand) : null;
      const event: ValidEvent = {
        n: custom?.name ?? 'pageview',
        u: url,
        w: visitor.width,
        i: uuidAt(ts, counter.next++),
      };
      if (referrer) event.r = referrer;
      if (custom) event.p = custom.props;
      if (custom?.revenue) event.$ = custom.revenue;
      const receivedAt = ts + 40 + Math.floor(rand() * 400);
      const pending = enrich(event, projectId, ts, receivedAt, visitor);
      rows.push(rowOf(Object.assign(pending, { visitorId: visitor.id, sessionId, seq, isEntry: seq === 1 })));
    }
  }
  return rows.sort((a, b) => (a[TS] as number) - (b[TS] as number));
}

/** The values of a stored event in `EVENT_COLUMNS` order. */
function rowOf(event: StoredEvent): Row {
  const row: Row = new Array(COLUMNS.length);
  for (let i = 0; i < COLUMNS.length; i++) {
    const { key, boolean } = COLUMNS[i] as (typeof COLUMNS)[number];
    row[i] = boolean ? (event[key] ? 1 : 0) : (event[key] as string | number | null);
  }
  return row;
}

/** A row as the queue carries it: the drizzle schema's keys (`StoredEvent`), booleans as booleans. */
export function storedEvent(row: Row): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  COLUMNS.forEach(({ key, boolean }, i) => {
    event[key] = boolean ? row[i] === 1 : row[i];
  });
  return event;
}
