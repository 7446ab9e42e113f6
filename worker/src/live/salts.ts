import { toHex } from '../shared/ids.ts';
import { previousUtcDay, utcDay } from '../shared/time.ts';

/**
 * Daily random salts, kept in the ProjectDO's SQLite storage. Only today's and yesterday's ever
 * exist: a new salt is drawn for each UTC day and older ones are deleted, so a visitor id of a
 * past day can never be recomputed from an IP address and user agent.
 */
export class SaltStore {
  private cache: { day: string; today: string; yesterday: string | null } | null = null;

  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** Today's and yesterday's salts at `now`, drawing today's and deleting older ones on a new day. */
  current(now: number): { today: string; yesterday: string | null } {
    const day = utcDay(now);
    if (this.cache?.day === day) return this.cache;
    const yesterdayDay = previousUtcDay(day);
    let today = this.read(day);
    if (!today) {
      today = toHex(crypto.getRandomValues(new Uint8Array(32)));
      this.sql.exec('INSERT OR IGNORE INTO salts (day, salt) VALUES (?, ?)', day, today);
    }
    // Privacy: the day before yesterday's salt (and anything older) must not survive.
    this.sql.exec('DELETE FROM salts WHERE day < ?', yesterdayDay);
    this.cache = { day, today, yesterday: this.read(yesterdayDay) };
    return this.cache;
  }

  /**
   * Delete the salts older than yesterday's without drawing today's (an idle object's alarm at
   * midnight); returns whether any salt is left.
   */
  prune(now: number): boolean {
    const day = utcDay(now);
    // Today's was drawn by `current`, which deleted the older ones then.
    if (this.cache?.day === day) return true;
    this.cache = null;
    this.sql.exec('DELETE FROM salts WHERE day < ?', previousUtcDay(day));
    return this.sql.exec('SELECT 1 FROM salts LIMIT 1').toArray().length > 0;
  }

  /** The days whose salts exist, oldest first. */
  days(): string[] {
    return this.sql
      .exec<{ day: string }>('SELECT day FROM salts ORDER BY day')
      .toArray()
      .map((row) => row.day);
  }

  private read(day: string): string | null {
    return this.sql.exec<{ salt: string }>('SELECT salt FROM salts WHERE day = ?', day).toArray()[0]?.salt ?? null;
  }
}

/**
 * A visitor id: the first 8 bytes of SHA-256(salt, project, fingerprint), as 16 hex characters.
 * The fingerprint is itself a hash of IP and user agent, made in the Worker: the raw IP never
 * reaches the DO.
 */
export async function visitorId(salt: string, projectId: string, fingerprint: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    'SHA-256',
    new TextEncoder().encode(`${salt}\n${projectId}\n${fingerprint}`),
  );
  return toHex(new Uint8Array(digest, 0, 8));
}
