/**
 * Tickets that open a dashboard's live socket. A browser cannot set headers on a WebSocket, and
 * an access token in a URL ends up in logs and history; so a signed-in member first asks for a
 * ticket (an ordinary authenticated POST), then opens the socket with it. A ticket is random,
 * used once, and dies after 30 seconds; only its SHA-256 is stored, in the project's ProjectDO,
 * whose single thread makes "check and delete" one step.
 */
import { hashToken, randomToken } from '../auth/tokens.ts';

/** How long a ticket can be used. */
export const LIVE_TICKET_TTL_MS = 30_000;

/** A ticket as the API hands it out. */
export interface LiveTicket {
  ticket: string;
  /** When it stops working (ms since the epoch). */
  expiresAt: number;
}

/** Issued tickets not yet used, in the ProjectDO's SQLite storage. */
export class LiveTickets {
  /** Tables come from `migrateProjectStorage` (`schema.ts`). */
  constructor(private readonly sql: SqlStorage) {}

  /** A new ticket for a member of a project; expired ones are forgotten on the way. */
  async issue(projectId: string, userId: string, now: number): Promise<LiveTicket> {
    const ticket = randomToken();
    const hash = await hashToken(ticket);
    const expiresAt = now + LIVE_TICKET_TTL_MS;
    this.sql.exec('DELETE FROM live_tickets WHERE expires_at <= ?', now);
    this.sql.exec(
      'INSERT INTO live_tickets (hash, project_id, user_id, expires_at) VALUES (?, ?, ?, ?)',
      hash,
      projectId,
      userId,
      expiresAt,
    );
    return { ticket, expiresAt };
  }

  /**
   * Use a ticket: the user it was issued to, or null when it is unknown, used, expired or for
   * another project. It is deleted in the same statement that reads it, so it opens one socket.
   */
  async consume(ticket: string, projectId: string, now: number): Promise<string | null> {
    const hash = await hashToken(ticket);
    const row = this.sql
      .exec<{ project_id: string; user_id: string; expires_at: number }>(
        'DELETE FROM live_tickets WHERE hash = ? RETURNING project_id, user_id, expires_at',
        hash,
      )
      .toArray()[0];
    if (!row || row.project_id !== projectId || row.expires_at <= now) return null;
    return row.user_id;
  }
}
