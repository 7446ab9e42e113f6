/**
 * Phase 2, drain: how fast the real queue consumer (`worker/src/pipeline/`) writes events into D1,
 * beside raw SQLite (`node:sqlite`) inserting the same rows into the same table (the migrations'
 * DDL). The consumer gets what the ProjectDO sends at full load — messages packed to the size cap,
 * batches of the consumer's `max_batch_size` — handed to its queue handler one batch at a time.
 */
import path from 'node:path';
import { packEventMessages } from '../worker/src/pipeline/messages.ts';
import { eventInsert, insertRows, openSqlite } from './dataset.ts';
import { random } from './events.ts';
import { log, status } from './progress.ts';
import { type Figure, ratioOf } from './report.ts';
import { DAY_MS, dayRows, type Row, storedEvent } from './rows.ts';
import { migrationStatements, type Stack } from './stack.ts';

const GROUP = 'Drain';
const QUEUE = 'tally-events';

/** What phase 2 measured. */
export interface DrainOutcome {
  figures: Figure[];
  consumer: { events: number; ms: number; batches: number; messages: number; retried: number };
  raw: { events: number; ms: number };
}

/** Events of the last two closed days, in batches as the consumer would receive them. */
function consumerBatches(projectId: string, events: number, batchSize: number): { rows: Row[][]; bodies: string[][] } {
  const rand = random(23);
  const counter = { next: 1 };
  const yesterday = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS;
  const all = [
    ...dayRows(projectId, yesterday - DAY_MS, Math.floor(events / 2), rand, counter),
    ...dayRows(projectId, yesterday, events - Math.floor(events / 2), rand, counter),
  ].slice(0, events);
  const texts = all.map((row) => JSON.stringify(storedEvent(row)));
  const messages = packEventMessages(texts);
  const rows: Row[][] = [];
  const bodies: string[][] = [];
  let first = 0;
  for (let i = 0; i < messages.length; i += batchSize) {
    const group = messages.slice(i, i + batchSize);
    const last = (group[group.length - 1] as (typeof group)[number]).last;
    bodies.push(group.map((message) => message.body));
    rows.push(all.slice(first, last + 1));
    first = last + 1;
  }
  return { rows, bodies };
}

export async function benchDrain(
  stack: Stack,
  projectId: string,
  events: number,
  tmpDir: string,
): Promise<DrainOutcome> {
  const { rows, bodies } = consumerBatches(projectId, events, stack.consumerBatchSize);
  const messages = bodies.reduce((sum, batch) => sum + batch.length, 0);
  log('drain', `${events.toLocaleString('en-US')} events in ${messages} messages, ${bodies.length} consumer batches`);

  let done = 0;
  let ms = 0;
  let retried = 0;
  const stop = status('drain', () => `consumer: batch ${done}/${bodies.length}`);
  try {
    for (const batch of bodies) {
      const result = await stack.drain(QUEUE, [batch]);
      ms += result.ms;
      retried += result.retried;
      done++;
    }
  } finally {
    stop();
  }
  const db = await stack.d1();
  const stored = Number(
    (await db.prepare('SELECT COUNT(*) AS n FROM events WHERE project_id = ?').bind(projectId).all<{ n: number }>())
      .results[0]?.n ?? 0,
  );
  const consumerRate = ms > 0 ? (events / ms) * 1000 : null;
  log('drain', `consumer: ${Math.round(consumerRate ?? 0).toLocaleString('en-US')} events/s, ${stored} rows stored`);

  const raw = rawInsert(rows, path.join(tmpDir, 'raw-drain.sqlite'));
  const rawRate = (events / raw.ms) * 1000;
  log('drain', `raw node:sqlite: ${Math.round(rawRate).toLocaleString('en-US')} events/s`);

  const ratio = ratioOf(consumerRate, rawRate);
  const figures: Figure[] = [
    {
      id: 'drain.consumer',
      group: GROUP,
      label: 'queue consumer → D1, events/s',
      value: consumerRate,
      unit: 'events/s',
      reference: { label: 'raw SQLite', value: rawRate, unit: 'events/s' },
      ratio: { value: ratio, unit: '×' },
      target: {
        text: '≥ 0.10× raw and ≥ 50,000 events/s',
        pass: ratio === null || consumerRate === null ? null : ratio >= 0.1 && consumerRate >= 50_000,
      },
      note: retried ? `${retried} messages retried` : undefined,
    },
    {
      id: 'drain.stored',
      group: GROUP,
      label: 'rows stored after the drain',
      value: stored,
      unit: 'rows',
      reference: { label: 'events sent', value: events, unit: '' },
      ratio: { value: (stored / events) * 100, unit: '%' },
      target: { text: '= events sent', pass: stored === events },
    },
  ];
  return {
    figures,
    consumer: { events, ms, batches: bodies.length, messages, retried },
    raw: { events, ms: raw.ms },
  };
}

/**
 * The same rows into a fresh SQLite file with the migrations' schema: one prepared INSERT per row,
 * one transaction per consumer batch, WAL with synchronous=FULL (durable at each commit, as D1
 * is when the consumer's batch returns).
 */
function rawInsert(batches: Row[][], file: string): { ms: number } {
  const db = openSqlite(file);
  try {
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    for (const statement of migrationStatements()) db.exec(statement);
    const insert = eventInsert(db);
    const started = performance.now();
    for (const batch of batches) insertRows(db, insert, batch);
    return { ms: performance.now() - started };
  } finally {
    db.close();
  }
}
