/**
 * The ProjectDO's one alarm, and the one bit its time carries. Each `setAlarm` is billed as a row
 * written, so the outbox's "events wait to be sent" is not written anywhere else: while any
 * admitted event waits, the alarm is set to an odd millisecond, and it is set to an even one only
 * once everything has been sent. An object that a request starts, finding an even alarm or none,
 * knows that every row of its log has reached the queue without reading one.
 *
 * @example
 * ```ts
 * clock.schedule(Date.now() + 200, true); // events wait: an odd time at or before it
 * clock.schedule(nextMidnight, false);    // nothing waits: an even time (kept if one is set earlier)
 * ```
 */
export class AlarmClock {
  private at: number | null = null;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** The alarm the object found when it started (`getAlarm()`). */
  start(at: number | null): void {
    this.at = at;
  }

  /**
   * Whether the alarm found at start says events may wait in the log. NOTE: an object woken by its
   * alarm may find none set (the runtime clears it as the handler starts); it then treats the
   * log as if they might when the log has rows, which an object with no alarm set never has
   * otherwise: its oldest generation's expiry keeps one (`project-do.ts`).
   */
  static waiting(at: number | null): boolean {
    return at !== null && at % 2 !== 0;
  }

  /**
   * Make the alarm fire by `at`, saying whether events wait (`waiting`). An alarm already set
   * earlier stays, unless events now wait and its time says they do not.
   */
  schedule(at: number, waiting: boolean): void {
    const current = this.at;
    if (current !== null && current <= at && (!waiting || current % 2 !== 0)) return;
    this.put(Math.min(at, current ?? at), waiting);
  }

  /** The alarm is running: its time no longer holds (the runtime cleared it). */
  fired(): void {
    this.at = null;
  }

  /**
   * At the end of an alarm run: set the next one by `at` (none when null), saying whether events
   * still wait. An odd alarm an admission set during the run is replaced if what it was for was
   * sent meanwhile, so that its time no longer says so.
   */
  settle(at: number | null, waiting: boolean): void {
    if (waiting || this.at === null || this.at % 2 === 0) {
      if (at !== null) this.schedule(at, waiting);
      return;
    }
    if (at === null) {
      this.at = null;
      void this.storage.deleteAlarm();
      return;
    }
    this.put(Math.min(at, this.at), false);
  }

  /** No alarm (the object's storage was deleted). */
  clear(): void {
    this.at = null;
  }

  private put(at: number, waiting: boolean): void {
    // Earlier by a millisecond when the parity is wrong: "fire by `at`" still holds.
    const time = Math.floor(at) % 2 === (waiting ? 1 : 0) ? Math.floor(at) : Math.floor(at) - 1;
    this.at = time;
    void this.storage.setAlarm(time);
  }
}

/** A second past the next UTC midnight: when an idle object's alarm comes back (salts rotate at midnight). */
export function nextUtcMidnight(now: number): number {
  const day = 86_400_000;
  return Math.floor(now / day) * day + day + 1_000;
}
