import { DurableObject } from 'cloudflare:workers';
import type { DropReason, QueueBody, StoredEvent } from '../pipeline/messages.ts';
import { uuidv7 } from '../shared/ids.ts';
import { dayInTimeZone, previousUtcDay, utcDay } from '../shared/time.ts';
import { type ApiKeyTokenResult, ApiKeyBuckets } from './api-key-buckets.ts';
import { type AdmitRequest, type AdmitResult, resolveVisitors, takeTokens, visitorIds } from './admission.ts';
import { DropCounter, Outbox } from './outbox.ts';
import { migrateProjectStorage } from './schema.ts';
import { type Bucket, fullBucket } from './rate-limit.ts';
import { SaltStore } from './salts.ts';
import { type LiveSnapshot, nextVisitStep, SESSION_TIMEOUT_MS, VisitorStore, type VisitorState } from './sessions.ts';

export type { AdmitRequest, AdmitResult } from './admission.ts';

/** How long admitted events wait in the outbox so that many leave in one `sendBatch`. */
export const FLUSH_DELAY_MS = 200;
/** Backoff bounds when the queue refuses a flush. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 60_000;
/** Recent events kept for the live feed. */
const RECENT_EVENTS = 50;

/** A recent event as the live feed shows it. */
export interface RecentEvent {
  ts: number;
  name: string;
  path: string;
  country: string | null;
}

/**
 * One per project (SQLite-backed). Admits events — token buckets per project and per visitor,
 * visit assignment, live visitors — and keeps admitted events durable in its outbox until its
 * alarm has handed them to the queue. The Worker makes one call per request, never one per event.
 *
 * NOTE: production serves ~1,000 requests/s per object. A project hotter than that shards its DO
 * by visitor-hash prefix (see ARCHITECTURE.md); every state here is per visitor except the project
 * bucket, which then splits its rate across shards.
 */
export class ProjectDO extends DurableObject<Env> {
  private salts!: SaltStore;
  private visitors!: VisitorStore;
  private outbox!: Outbox;
  private drops!: DropCounter;
  private keyBuckets!: ApiKeyBuckets;
  private readonly recent: RecentEvent[] = [];
  private projectBucket: Bucket | null = null;
  private alarmAt: number | null = null;
  private flushFailures = 0;
  private projectId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.open();
    this.projectId = this.recall('project_id');
    ctx.blockConcurrencyWhile(async () => {
      this.alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Admit one request's events. Either all of them are admitted — stored in the outbox, durable
   * when this returns — or none are, and the caller answers 429 with `retryAfter`.
   */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { now, project } = request;
    if (this.projectId !== project.id) {
      this.projectId = project.id;
      this.remember('project_id', project.id);
    }
    const salts = this.salts.current(now);
    const ids = await visitorIds(request, salts);
    // Nothing below awaits: the checks and the writes happen as one step for this object.

    for (const [reason, count] of Object.entries(request.drops ?? {})) {
      this.drops.add(dayInTimeZone(now, project.timezone), reason as DropReason, count ?? 0);
    }
    if (!request.events.length) {
      this.scheduleFlush();
      return { ok: true, ids: [] };
    }

    const { visitors, movedFrom } = resolveVisitors(this.visitors, request, ids);
    const { projectBurst } = project.limits;
    const taken = takeTokens(request, visitors, this.loadProjectBucket(projectBurst, now));
    if ('denied' in taken) {
      this.drops.add(dayInTimeZone(now, project.timezone), 'rate_limited', request.events.length);
      this.scheduleFlush();
      return taken.denied;
    }
    this.projectBucket = taken.projectBucket;
    this.remember('project_bucket', JSON.stringify(taken.projectBucket));

    const stored: StoredEvent[] = request.events.map(({ event }, index) => {
      const state = visitors[index] as VisitorState;
      const step = nextVisitStep(state.seq ? state : null, event.ts, project.timezone, () => uuidv7(event.ts));
      // A new visit carries today's id, even if the last one carried yesterday's.
      if (step.isEntry) state.visitor = state.key;
      state.sessionId = step.sessionId;
      state.seq = step.seq;
      state.lastSeen = Math.max(step.isEntry ? event.ts : state.lastSeen, event.ts);
      state.page = event.path;
      state.country = event.country;
      return { ...event, visitorId: state.visitor, sessionId: step.sessionId, seq: step.seq, isEntry: step.isEntry };
    });
    for (const key of movedFrom) this.visitors.delete(key);
    for (const state of new Set(visitors)) this.visitors.put(state);
    this.outbox.append(stored);
    for (const event of stored) {
      this.recent.push({ ts: event.ts, name: event.name, path: event.path, country: event.country });
    }
    this.recent.splice(0, Math.max(0, this.recent.length - RECENT_EVENTS));
    this.scheduleFlush();
    return { ok: true, ids: stored.map((event) => event.id) };
  }

  /**
   * Take one token from an API key's bucket: `perMinute` tokens at most, refilled at `perMinute`
   * per minute. The key's project DO holds it, so one call per request answers for every isolate.
   */
  async takeApiKeyToken(keyId: string, perMinute: number, now: number): Promise<ApiKeyTokenResult> {
    return this.keyBuckets.take(keyId, perMinute, now);
  }

  /** Who is on the site now, and the latest events. */
  async live(now: number = Date.now()): Promise<LiveSnapshot & { recent: RecentEvent[] }> {
    return { ...this.visitors.live(now), recent: [...this.recent].reverse() };
  }

  /** Draw today's salt and delete those older than yesterday (the cron calls this for idle projects). */
  async rotateSalts(now: number = Date.now()): Promise<string[]> {
    this.salts.current(now);
    return this.salts.days();
  }

  /** Events admitted but not yet handed to the queue. */
  async pendingEvents(): Promise<number> {
    return this.outbox.pendingEvents();
  }

  /** Drop totals this object has counted, per day and reason. */
  async dropTotals() {
    return this.drops.totals();
  }

  /** Forget everything: salts, visits, the outbox, drop totals (the project is being deleted). */
  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.alarmAt = null;
    this.projectBucket = null;
    this.projectId = null;
    this.recent.length = 0;
    // Fresh stores over fresh tables: no cached salt or visit may outlive the data.
    this.open();
  }

  /** Answers when the object is reachable (health check). */
  async ping(): Promise<'pong'> {
    return 'pong';
  }

  /** Send the outbox and drop totals to the queue; retry with backoff when the queue refuses. */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const queue = this.env.EVENTS as Queue<QueueBody>;
    try {
      for (;;) {
        const { more } = await this.outbox.flushRound(queue);
        if (!more) break;
      }
      if (this.projectId)
        await this.drops.flush(queue, this.projectId, previousUtcDay(previousUtcDay(utcDay(Date.now()))));
      this.flushFailures = 0;
    } catch (error) {
      this.flushFailures++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (this.flushFailures - 1));
      console.warn(`ProjectDO flush failed (attempt ${this.flushFailures}), retrying in ${delay} ms:`, String(error));
      await this.setAlarmAt(Date.now() + delay);
      return;
    }
    const now = Date.now();
    // Privacy: a new day's alarm deletes the salt of the day before yesterday even when idle.
    this.salts.current(now);
    const remaining = this.visitors.prune(now);
    if (this.outbox.pendingEvents() > 0 || this.drops.hasUnsent()) await this.setAlarmAt(now + FLUSH_DELAY_MS);
    // Keep waking while visits are open, so that ended ones are forgotten; else wake at midnight.
    else if (remaining > 0) await this.setAlarmAt(now + SESSION_TIMEOUT_MS / 6);
    else await this.setAlarmAt(nextUtcMidnight(now));
  }

  /** Bring storage to the latest schema and build the stores over it (their caches start empty). */
  private open(): void {
    migrateProjectStorage(this.ctx.storage);
    const sql = this.ctx.storage.sql;
    this.salts = new SaltStore(sql);
    this.visitors = new VisitorStore(sql);
    this.outbox = new Outbox(sql);
    this.drops = new DropCounter(sql);
    this.keyBuckets = new ApiKeyBuckets(sql);
  }

  private loadProjectBucket(burst: number, now: number): Bucket {
    if (!this.projectBucket) {
      const saved = this.recall('project_bucket');
      this.projectBucket = saved ? (JSON.parse(saved) as Bucket) : fullBucket(burst, now);
    }
    return this.projectBucket;
  }

  private scheduleFlush(): void {
    const at = Date.now() + FLUSH_DELAY_MS;
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  private async setAlarmAt(at: number): Promise<void> {
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  private remember(key: string, value: string): void {
    this.ctx.storage.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }

  private recall(key: string): string | null {
    return (
      this.ctx.storage.sql.exec<{ value: string }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0]?.value ??
      null
    );
  }
}

function nextUtcMidnight(now: number): number {
  const day = 86_400_000;
  return Math.floor(now / day) * day + day + 1_000;
}
