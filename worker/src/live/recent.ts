/**
 * The live feed's latest events, in memory. They cost no write: every admitted event is in the
 * admission log (`log.ts`) anyway, and an object that starts again reads its newest rows back when
 * a live view is first asked for (`project-do.ts`).
 */

/** Events the live feed keeps (and sends). */
export const RECENT_EVENTS = 50;

/** A recent event as the live feed shows it: what happened where, never who. */
export interface RecentEvent {
  ts: number;
  name: string;
  path: string;
  country: string | null;
  source: string | null;
}

/** The newest events admitted, at most {@link RECENT_EVENTS}. */
export class RecentEvents {
  /** Oldest first. */
  private events: RecentEvent[] = [];

  /** Add events in the order they were admitted. */
  append(events: readonly RecentEvent[]): void {
    for (const { ts, name, path, country, source } of events) this.events.push({ ts, name, path, country, source });
    if (this.events.length > 2 * RECENT_EVENTS) this.events = this.events.slice(-RECENT_EVENTS);
  }

  /** Put back events admitted before the object started (oldest first), before those admitted since. */
  restore(events: readonly RecentEvent[]): void {
    this.events = [...events, ...this.events].slice(-RECENT_EVENTS);
  }

  /** The kept events, newest (last admitted) first. */
  list(): RecentEvent[] {
    return this.events.slice(-RECENT_EVENTS).reverse();
  }
}
