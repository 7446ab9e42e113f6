import { DurableObject } from 'cloudflare:workers';
import type { DropReason, QueueBody, StoredEvent } from '../pipeline/messages.ts';
import { uuidv7 } from '../shared/ids.ts';
import { dayInTimeZone } from '../shared/time.ts';
import { type ApiKeyTokenResult, ApiKeyBuckets } from './api-key-buckets.ts';
import { type AdmitRequest, type AdmitResult, resolveVisitors, takeTokens, visitorIds } from './admission.ts';
import { LiveFeed } from './feed.ts';
import { CLOSE_CODES, type LiveView, PING, PONG } from './messages.ts';
import { DropCounter, FLUSH_DELAY_MS, Outbox, OutboxFlusher } from './outbox.ts';
import { publicLiveEnabled } from './public.ts';
import { type Bucket, fullBucket } from './rate-limit.ts';
import { RecentEvents } from './recent.ts';
import { SaltStore } from './salts.ts';
import { migrateProjectStorage } from './schema.ts';
import { nextVisitStep, SESSION_TIMEOUT_MS, VisitorStore, type VisitorState } from './sessions.ts';
import { ShareBuckets, type ShareTokenResult } from './share-buckets.ts';
import type { ProjectMeters } from '../shared/principal.ts';
import { type LiveTicket, LiveTickets } from './tickets.ts';

export type { AdmitRequest, AdmitResult } from './admission.ts';

/** How often housekeeping comes back while there are visits or share buckets to prune. */
const PRUNE_INTERVAL_MS = SESSION_TIMEOUT_MS / 6;

/**
 * One per project (SQLite-backed). Admits events — token buckets per project and per visitor,
 * visit assignment, live visitors — and keeps admitted events durable in its outbox until its
 * alarm has handed them to the queue. The Worker makes one call per request, never one per event.
 * It also serves the project's live sockets (dashboards and the public counter, `feed.ts`), and
 * meters the requests of its API keys and share links.
 *
 * One alarm serves three clocks: the outbox flush (with backoff), live updates (throttled, and
 * when visitors leave the live window), and housekeeping (visit and share-bucket pruning, the
 * midnight salt rotation). Whoever needs the alarm asks for a time; the earliest wins, and each
 * run computes the next from what is still due, so no clock overwrites another.
 *
 * NOTE: production serves ~1,000 requests/s per object. A project hotter than that shards its DO
 * by visitor-hash prefix (see ARCHITECTURE.md); every state here is per visitor except the project
 * bucket, which then splits its rate across shards.
 */
export class ProjectDO extends DurableObject<Env> implements ProjectMeters {
  private salts!: SaltStore;
  private visitors!: VisitorStore;
  private outbox!: Outbox;
  private drops!: DropCounter;
  private flusher!: OutboxFlusher;
  private keyBuckets!: ApiKeyBuckets;
  private shareBuckets!: ShareBuckets;
  private recent!: RecentEvents;
  private tickets!: LiveTickets;
  private readonly feed: LiveFeed;
  private projectBucket: Bucket | null = null;
  private alarmAt: number | null = null;
  /** When live sockets are next due a look (an update, or a visitor leaving the window). */
  private liveDueAt: number | null = null;
  private projectId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.open();
    this.projectId = this.recall('project_id');
    this.feed = new LiveFeed(ctx, {
      view: (now) => this.live(now),
      count: (now) => this.visitors.liveCount(now),
      nextExpiry: (now) => this.visitors.nextLiveExpiry(now),
    });
    // Answered by the runtime itself: a keep-alive does not wake a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
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
    this.rememberProject(project.id);
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
      // Presence is the server's clock: a client's may be minutes ahead or an hour behind.
      state.liveAt = now;
      state.page = event.path;
      state.country = event.country;
      return { ...event, visitorId: state.visitor, sessionId: step.sessionId, seq: step.seq, isEntry: step.isEntry };
    });
    for (const key of movedFrom) this.visitors.delete(key);
    for (const state of new Set(visitors)) this.visitors.put(state);
    this.outbox.append(stored);
    this.recent.append(
      stored.map(({ ts, name, path, country, source }) => ({ ts, name, path, country, source: source ?? null })),
    );
    this.scheduleFlush();
    if (this.feed.listening()) this.scheduleLive(this.feed.dueAfterChange(Date.now()));
    return { ok: true, ids: stored.map((event) => event.id) };
  }

  /**
   * Take one token from an API key's bucket: `perMinute` tokens at most, refilled at `perMinute`
   * per minute. The key's project DO holds it, so one call per request answers for every isolate.
   */
  async takeApiKeyToken(keyId: string, perMinute: number, now: number): Promise<ApiKeyTokenResult> {
    return this.keyBuckets.take(keyId, perMinute, now);
  }

  /**
   * Take one request from a share link's bucket and one from its caller's (`addressHash`, a keyed
   * hash of the client address), both or neither (`share-buckets.ts`).
   */
  async takeShareTokens(shareId: string, addressHash: string, now: number): Promise<ShareTokenResult> {
    const result = this.shareBuckets.take(shareId, addressHash, now);
    // Its buckets are rows now: housekeeping must come to prune them, though no event may ever arrive.
    if (result.ok) this.scheduleAlarm(Date.now() + PRUNE_INTERVAL_MS);
    return result;
  }

  /** Who is on the site now, and the latest events (what a dashboard's live socket is sent). */
  live(now: number = Date.now()): LiveView {
    return { ...this.visitors.live(now), recent: this.recent.list() };
  }

  /** A single-use ticket, valid 30 s, that opens a live socket for this member (`tickets.ts`). */
  async issueLiveTicket(projectId: string, userId: string, now: number = Date.now()): Promise<LiveTicket> {
    return this.tickets.issue(projectId, userId, now);
  }

  /** Use a ticket: the member it was issued to, or null if it is unknown, used, expired or another project's. */
  async consumeLiveTicket(ticket: string, projectId: string, now: number = Date.now()): Promise<string | null> {
    return this.tickets.consume(ticket, projectId, now);
  }

  /**
   * Open a live socket. Only the Worker calls this, after it checked the ticket or that the
   * project's public counter is on (`routes.ts`); the request says for whom (`upgrade.ts`).
   */
  override async fetch(request: Request): Promise<Response> {
    const now = Date.now();
    const { response, projectId } = this.feed.open(request, now);
    if (projectId === null) return response;
    this.rememberProject(projectId);
    // Visitors will leave the window while nothing else happens: the count must drop then.
    const expiry = this.visitors.nextLiveExpiry(now);
    if (expiry !== null) this.scheduleLive(expiry);
    return response;
  }

  override async webSocketMessage(socket: WebSocket): Promise<void> {
    this.feed.refuse(socket);
  }

  override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
    this.feed.closed(socket, code, reason);
  }

  override async webSocketError(): Promise<void> {
    this.feed.forget();
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

  /** Close the live counters opened through a share link: it was revoked. */
  async closeShareSockets(shareId: string): Promise<void> {
    this.feed.closeShare(shareId, CLOSE_CODES.publicDisabled, 'The share link was revoked');
  }

  /** Forget everything: salts, visits, the outbox, drop totals, live sockets (the project is being deleted). */
  async destroy(): Promise<void> {
    this.feed.close('dashboard', CLOSE_CODES.projectDeleted, 'The project was deleted');
    this.feed.close('public', CLOSE_CODES.projectDeleted, 'The project was deleted');
    this.feed.close('share', CLOSE_CODES.projectDeleted, 'The project was deleted');
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.alarmAt = null;
    this.liveDueAt = null;
    this.projectBucket = null;
    this.projectId = null;
    // Fresh stores over fresh tables: no cached salt or visit may outlive the data.
    this.open();
  }

  /** Answers when the object is reachable (health check). */
  async ping(): Promise<'pong'> {
    return 'pong';
  }

  /**
   * Whatever is due: live updates, the outbox flush, salt rotation and visit pruning. Then the
   * alarm is set for the earliest of what is still pending.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = null;
    const started = Date.now();
    // Live first: it is cheap, and must not wait behind a slow queue.
    if (this.liveDueAt === null || this.liveDueAt <= started) {
      this.liveDueAt = null;
      const projectId = this.projectId;
      if (projectId) await this.feed.recheckPublic(started, () => publicLiveEnabled(this.env.DB, projectId));
      const due = this.feed.tick(started);
      if (due !== null) this.liveDueAt = Math.min(due, this.liveDueAt ?? due);
    }
    const flushAt = await this.flusher.flushIfDue(this.env.EVENTS as Queue<QueueBody>, this.projectId, started);
    const now = Date.now();
    // Privacy: a new day's alarm deletes the salt of the day before yesterday even when idle.
    this.salts.current(now);
    const remaining = this.visitors.prune(now);
    const sharesLeft = this.shareBuckets.prune(now);
    // Keep waking while visits are open or share buckets are kept, so that stale ones are
    // forgotten; else wake at midnight.
    const housekeeping = flushAt ?? (remaining > 0 || sharesLeft ? now + PRUNE_INTERVAL_MS : nextUtcMidnight(now));
    await this.setAlarmAt(Math.min(housekeeping, this.liveDueAt ?? housekeeping));
  }

  /** Bring storage to the latest schema and build the stores over it (their caches start empty). */
  private open(): void {
    migrateProjectStorage(this.ctx.storage);
    const sql = this.ctx.storage.sql;
    this.salts = new SaltStore(sql);
    this.visitors = new VisitorStore(sql);
    this.outbox = new Outbox(sql);
    this.drops = new DropCounter(sql);
    this.flusher = new OutboxFlusher(this.outbox, this.drops);
    this.keyBuckets = new ApiKeyBuckets(sql);
    this.shareBuckets = new ShareBuckets(sql);
    this.recent = new RecentEvents(sql);
    this.tickets = new LiveTickets(sql);
  }

  private rememberProject(projectId: string): void {
    if (this.projectId === projectId) return;
    this.projectId = projectId;
    this.remember('project_id', projectId);
  }

  private loadProjectBucket(burst: number, now: number): Bucket {
    if (!this.projectBucket) {
      const saved = this.recall('project_bucket');
      this.projectBucket = saved ? (JSON.parse(saved) as Bucket) : fullBucket(burst, now);
    }
    return this.projectBucket;
  }

  private scheduleFlush(): void {
    this.scheduleAlarm(Date.now() + FLUSH_DELAY_MS);
  }

  private scheduleLive(at: number): void {
    if (this.liveDueAt === null || at < this.liveDueAt) this.liveDueAt = at;
    this.scheduleAlarm(at);
  }

  /** Make the alarm fire by `at`: an earlier one already set stays (it will set the next). */
  private scheduleAlarm(at: number): void {
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
