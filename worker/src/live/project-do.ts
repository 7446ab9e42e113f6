import { DurableObject } from 'cloudflare:workers';
import type { DropReason, QueueBody } from '../pipeline/messages.ts';
import type { ProjectMeters } from '../shared/principal.ts';
import { dayInTimeZone } from '../shared/time.ts';
import { type ApiKeyTokenResult, ApiKeyBuckets } from './api-key-buckets.ts';
import {
  type AdmitRequest,
  type AdmitResult,
  assignVisits,
  resolveVisitors,
  takeTokens,
  visitorIds,
} from './admission.ts';
import { AlarmClock, nextUtcMidnight } from './alarm.ts';
import { LiveFeed } from './feed.ts';
import { AdmissionLog } from './log.ts';
import { readMeta, writeMeta } from './meta.ts';
import { CLOSE_CODES, type LiveView, PING, PONG } from './messages.ts';
import { DropCounter, FLUSH_DELAY_MS, Outbox, OutboxFlusher } from './outbox.ts';
import { ProjectBucket } from './project-bucket.ts';
import { publicLiveEnabled } from './public.ts';
import { RecentEvents } from './recent.ts';
import { restoreLive, storedInD1 } from './recovery.ts';
import { SaltStore } from './salts.ts';
import { migrateProjectStorage } from './schema.ts';
import { decodeState, encodeState, SESSION_TIMEOUT_MS, VisitorStore } from './sessions.ts';
import { ShareBuckets, type ShareTokenResult } from './share-buckets.ts';
import { type LiveTicket, LiveTickets } from './tickets.ts';

export type { AdmitRequest, AdmitResult } from './admission.ts';

/** How often housekeeping comes back while there are share buckets to prune. */
const PRUNE_INTERVAL_MS = SESSION_TIMEOUT_MS / 6;

/**
 * One per project (SQLite-backed). Admits events — token buckets per project and per visitor,
 * visit assignment, live visitors — and keeps admitted events durable in its outbox until its
 * alarm has handed them to the queue. The Worker makes one call per request, never one per event.
 * It also serves the project's live sockets (dashboards and the public counter, `feed.ts`), and
 * meters the requests of its API keys and share links.
 *
 * Storage is written per request once: a row of the admission log per visitor (`log.ts`), which
 * is both the outbox entry and the visitor's state; visits, buckets, live presence and the latest
 * events are held in memory and read back from the log after a restart: a visitor at a time by
 * key, the live view from the last minutes' rows. What a start reads does not grow with the log:
 * one generation, to find where unsent rows begin (`Outbox.resume`).
 *
 * One alarm serves three clocks: the outbox flush (with backoff), live updates (throttled, and
 * when visitors leave the live window), and housekeeping (share-bucket pruning, the midnight salt
 * rotation, dropping old log generations). Whoever needs the alarm asks for a time; the earliest
 * wins, and each run computes the next from what is still due, so no clock overwrites another. The
 * alarm's parity says whether events wait to be sent (`alarm.ts`).
 *
 * NOTE: production serves ~1,000 requests/s per object. A project hotter than that shards its DO
 * by visitor-hash prefix (see ARCHITECTURE.md); every state here is per visitor except the project
 * bucket, which then splits its rate across shards.
 */
export class ProjectDO extends DurableObject<Env> implements ProjectMeters {
  private salts!: SaltStore;
  private log!: AdmissionLog;
  private visitors!: VisitorStore;
  private outbox!: Outbox;
  private drops!: DropCounter;
  private flusher!: OutboxFlusher;
  private keyBuckets!: ApiKeyBuckets;
  private shareBuckets!: ShareBuckets;
  private recent!: RecentEvents;
  private tickets!: LiveTickets;
  private projectBucket!: ProjectBucket;
  private readonly feed: LiveFeed;
  private readonly clock: AlarmClock;
  /** When live sockets are next due a look (an update, or a visitor leaving the window). */
  private liveDueAt: number | null = null;
  private projectId: string | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.open();
    this.projectId = readMeta(this.ctx.storage.sql, 'project_id');
    this.feed = new LiveFeed(ctx, {
      view: (now) => this.live(now),
      count: (now) => this.liveVisitors().liveCount(now),
      nextExpiry: (now) => this.liveVisitors().nextLiveExpiry(now),
    });
    this.clock = new AlarmClock(ctx.storage);
    // Answered by the runtime itself: a keep-alive does not wake a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    ctx.blockConcurrencyWhile(async () => {
      const at = await ctx.storage.getAlarm();
      this.clock.start(at);
      // An odd alarm: the run before may have left events unsent. No alarm while the log has rows:
      // this object's alarm woke it (the runtime clears it as it fires), and whether events wait is
      // unknown. Either way, where they would begin is found now, before any request or alarm is
      // handled, from the log alone (D1 is asked by the alarm that sends them).
      if (AlarmClock.waiting(at) || (at === null && this.log.hasRows())) this.resume();
      if (this.outbox.hasWaiting()) this.scheduleFlush();
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
    const taken = takeTokens(request, visitors, this.projectBucket.current(project.limits.projectBurst, now));
    if ('denied' in taken) {
      this.drops.add(dayInTimeZone(now, project.timezone), 'rate_limited', request.events.length);
      this.scheduleFlush();
      return taken.denied;
    }
    this.projectBucket.took(taken.projectBucket, project.limits);
    const { stored, byVisitor } = assignVisits(request, visitors);
    for (const key of movedFrom) this.visitors.delete(key);
    // One log row per visitor of the request: its events, and its state after them.
    const states = [...byVisitor.keys()];
    const rowIds = this.outbox.append(
      states.map((state) => ({
        key: state.key,
        after: this.visitors.rowId(state.key),
        events: byVisitor.get(state) ?? [],
        state: encodeState(state, taken.projectBucket),
      })),
      Date.now(),
    );
    states.forEach((state, index) => {
      this.visitors.put(state, rowIds[index] as number);
    });
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
    if (result.ok) this.clock.schedule(Date.now() + PRUNE_INTERVAL_MS, this.outbox.hasWaiting());
    return result;
  }

  /** Who is on the site now, and the latest events (what a dashboard's live socket is sent). */
  live(now: number = Date.now()): LiveView {
    return { ...this.liveVisitors().live(now), recent: this.recent.list() };
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
    const expiry = this.liveVisitors().nextLiveExpiry(now);
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
    // The salt drawn is deleted the day after tomorrow by this object's own alarm.
    this.clock.schedule(nextUtcMidnight(Date.now()), this.outbox.hasWaiting());
    return this.salts.days();
  }

  /** Events admitted but not yet handed to the queue. */
  async pendingEvents(): Promise<number> {
    return this.outbox.pendingEvents();
  }

  /**
   * The project's numbers in D1 are being reset (`store/delete.ts`): no event that already left
   * the outbox may be sent again, which a restart would otherwise do for the log's last rows once
   * D1 no longer holds them. Events still waiting are sent as usual. Writes one row.
   */
  async dataReset(): Promise<void> {
    this.outbox.markLeft();
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
    this.clock.clear();
    this.liveDueAt = null;
    this.projectId = null;
    // Fresh stores over fresh tables: no cached salt or visit may outlive the data.
    this.open();
  }

  /** Answers when the object is reachable (health check). */
  async ping(): Promise<'pong'> {
    return 'pong';
  }

  /**
   * Whatever is due: live updates, the outbox flush, salt rotation, dropping old log generations.
   * Then the alarm is set for the earliest of what is still pending.
   */
  override async alarm(): Promise<void> {
    this.clock.fired();
    const started = Date.now();
    // Live first: it is cheap, and must not wait behind a slow queue.
    if (this.liveDueAt === null || this.liveDueAt <= started) {
      this.liveDueAt = null;
      const projectId = this.projectId;
      if (projectId) await this.feed.recheckPublic(started, () => publicLiveEnabled(this.env.DB, projectId));
      const due = this.feed.tick(started);
      if (due !== null) this.liveDueAt = Math.min(due, this.liveDueAt ?? due);
    }
    const { projectId } = this;
    const flushAt = await this.flusher.flushIfDue(
      this.env.EVENTS as Queue<QueueBody>,
      projectId,
      started,
      projectId ? storedInD1(this.env, projectId) : null,
    );
    const now = Date.now();
    // Privacy: a new day's alarm deletes the salt of the day before yesterday even when idle.
    const salted = this.salts.prune(now);
    const sharesLeft = this.shareBuckets.prune(now);
    this.visitors.prune(now);
    const heldFrom = this.outbox.heldFrom();
    this.log.drop(now, heldFrom);
    this.projectBucket.keep(now);
    // Come back for share buckets while any are kept, at midnight while a salt is, and when the
    // log's oldest generation can go (visit state is kept no longer than that) unless it holds
    // unsent rows: the flush's retry comes back for those.
    const housekeeping = [
      sharesLeft ? now + PRUNE_INTERVAL_MS : null,
      salted ? nextUtcMidnight(now) : null,
      this.log.nextExpiry(heldFrom),
    ];
    const due = [flushAt, ...housekeeping, this.liveDueAt].filter((at): at is number => at !== null);
    this.clock.settle(due.length ? Math.min(...due) : null, this.outbox.hasWaiting());
  }

  /** Bring storage to the latest schema and build the stores over it (their caches start empty). */
  private open(): void {
    migrateProjectStorage(this.ctx.storage);
    const sql = this.ctx.storage.sql;
    this.salts = new SaltStore(sql);
    this.log = new AdmissionLog(sql);
    this.visitors = new VisitorStore(this.log);
    this.outbox = new Outbox(sql, this.log);
    this.outbox.recoverLegacy();
    this.drops = new DropCounter(sql);
    this.flusher = new OutboxFlusher(this.outbox, this.drops);
    this.keyBuckets = new ApiKeyBuckets(sql);
    this.shareBuckets = new ShareBuckets(sql);
    this.recent = new RecentEvents();
    this.tickets = new LiveTickets(sql);
    this.projectBucket = new ProjectBucket(sql);
  }

  /**
   * Wait for what the run before may not have sent (`Outbox.resume`), and take the project's
   * bucket as its last admission left it.
   */
  private resume(): void {
    const last = this.outbox.resume();
    this.projectBucket.recovered(last ? decodeState(last.key, last.state).project : null);
  }

  /** The visitors, with the log's recent older rows read first if the live view needs them. */
  private liveVisitors(): VisitorStore {
    if (this.visitors.needsRestore()) restoreLive(this.log, this.visitors, this.recent, this.outbox.run, Date.now());
    return this.visitors;
  }

  private rememberProject(projectId: string): void {
    if (this.projectId === projectId) return;
    this.projectId = projectId;
    writeMeta(this.ctx.storage.sql, 'project_id', projectId);
  }

  private scheduleFlush(): void {
    this.clock.schedule(Date.now() + FLUSH_DELAY_MS, this.outbox.hasWaiting());
  }

  private scheduleLive(at: number): void {
    if (this.liveDueAt === null || at < this.liveDueAt) this.liveDueAt = at;
    this.clock.schedule(at, this.outbox.hasWaiting());
  }
}
