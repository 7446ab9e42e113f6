/**
 * Stored events in the events table's shape, as the ProjectDO and the consumer would have written
 * them: visits of one to a dozen events (entry first, `seq` from 1), a visitor id per visitor and
 * day, visits that never cross a UTC midnight (the project's timezone in the benchmark is UTC).
 */
import { sourceOfParam } from '../worker/src/ingest/sources.ts';
import {
  pickAgent,
  pickCampaign,
  pickCustom,
  pickPage,
  pickPlace,
  pickReferrer,
  pickScreen,
  SITE_HOST,
  sourceOf,
} from './events.ts';

/** The events table's columns in the order rows are built (checked against the live table). */
export const EVENT_COLUMNS = [
  'project_id',
  'id',
  'ts',
  'received_at',
  'name',
  'visitor_id',
  'session_id',
  'seq',
  'is_entry',
  'hostname',
  'path',
  'referrer',
  'referrer_host',
  'source',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'country',
  'region',
  'city',
  'timezone',
  'browser',
  'browser_version',
  'os',
  'os_version',
  'device',
  'screen',
  'props',
  'revenue_amount',
  'revenue_currency',
] as const;

export type Row = (string | number | null)[];

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

/**
 * Events of one UTC day for a project, about `target` of them, sorted by time. One visit in four
 * comes from a visitor already seen that day.
 */
export function dayRows(
  projectId: string,
  dayStart: number,
  target: number,
  rand: () => number,
  counter: RowCounter,
): Row[] {
  const rows: Row[] = [];
  const visitors: {
    id: string;
    agent: ReturnType<typeof pickAgent>;
    place: ReturnType<typeof pickPlace>;
    screen: string;
  }[] = [];
  while (rows.length < target) {
    const returning = visitors.length > 0 && rand() < 0.25;
    const visitor = returning
      ? (visitors[Math.floor(rand() * visitors.length)] as (typeof visitors)[number])
      : { id: hex64(rand), agent: pickAgent(rand), place: pickPlace(rand), screen: pickScreen(rand).screen };
    if (!returning) visitors.push(visitor);

    // Visit length: geometric, mean ≈ 2.6 events; 40% are single-pageview visits (bounces).
    let length = 1;
    while (length < 12 && rand() > 0.4) length++;
    const gaps = Array.from({ length }, (_, i) => (i === 0 ? 0 : 5_000 + Math.floor(rand() * 150_000)));
    const span = gaps.reduce((sum, gap) => sum + gap, 0);
    let ts = dayStart + Math.floor(rand() * (DAY_MS - span - 1_000));
    const sessionId = uuidAt(ts, counter.next++);

    const referrer = pickReferrer(rand).url;
    const { host: referrerHost, source: referredSource } = sourceOf(referrer);
    const campaign = new URLSearchParams(pickCampaign(rand).query);
    const utmSource = campaign.get('utm_source');
    for (let seq = 1; seq <= length; seq++) {
      ts += gaps[seq - 1] as number;
      const entry = seq === 1;
      const custom = !entry && rand() < 0.2 ? pickCustom(rand) : null;
      rows.push([
        projectId,
        uuidAt(ts, counter.next++),
        ts,
        ts + 40 + Math.floor(rand() * 400),
        custom?.name ?? 'pageview',
        visitor.id,
        sessionId,
        seq,
        entry ? 1 : 0,
        SITE_HOST,
        pickPage(rand).path,
        entry && referrer ? new URL(referrer).origin + new URL(referrer).pathname : null,
        entry ? referrerHost : null,
        entry ? (utmSource ? sourceOfParam(utmSource) : referredSource) : null,
        entry ? utmSource : null,
        entry ? campaign.get('utm_medium') : null,
        entry ? campaign.get('utm_campaign') : null,
        entry ? campaign.get('utm_term') : null,
        null,
        visitor.place.country,
        visitor.place.region,
        visitor.place.city,
        visitor.place.timezone,
        visitor.agent.browser,
        visitor.agent.browserVersion,
        visitor.agent.os,
        visitor.agent.osVersion,
        visitor.agent.device,
        visitor.screen,
        custom?.props ?? null,
        custom?.revenue ?? null,
        custom?.revenue ? 'EUR' : null,
      ]);
    }
  }
  return rows.sort((a, b) => (a[2] as number) - (b[2] as number));
}

const camel = (column: string) => column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
const KEYS = EVENT_COLUMNS.map(camel);

/** A row as the queue carries it: the drizzle schema's keys (`StoredEvent`), booleans as booleans. */
export function storedEvent(row: Row): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  KEYS.forEach((key, i) => {
    event[key] = key === 'isEntry' ? row[i] === 1 : row[i];
  });
  return event;
}
