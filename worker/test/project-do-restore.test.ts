/**
 * The bounded live-view restore after a restart (from an independent review): it reads a
 * generation in key order with a LIMIT; a visitor whose rows the limit cuts must not come back
 * with an older state (memory is trusted over the log), so a cut key is left out whole.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { AdmissionLog, type LogRow } from '../src/live/log.ts';
import { encodeState, type VisitorState, VisitorStore } from '../src/live/sessions.ts';
import { freshProject, PINNED_NOW } from './fixtures.ts';

const state = (key: string, seq: number): VisitorState => ({
  key,
  visitor: key,
  sessionId: `s-${key}`,
  lastSeen: PINNED_NOW + seq,
  liveAt: PINNED_NOW + seq,
  seq,
  page: '/',
  country: null,
  tokens: 10,
  tokensAt: PINNED_NOW,
});
const row = (visitor: VisitorState, id: number): LogRow => ({
  key: visitor.key,
  id,
  run: 'test',
  sentBelow: id + 1,
  events: 0,
  body: '',
  state: encodeState(visitor, { tokens: 1, at: PINNED_NOW }),
});

describe('review3: restore cut mid-key', () => {
  it('holds a stale state for the visitor at the LIMIT cut', async () => {
    const project = await freshProject('r3restore');
    await runInDurableObject(project.stub, (_instance, ctx) => {
      const sql = ctx.storage.sql;
      // Visitor 'a' has three rows (seq 1..3), 'b' one; one generation.
      new AdmissionLog(sql).append(
        [row(state('a', 1), 1), row(state('a', 2), 2), row(state('a', 3), 3), row(state('b', 4), 4)],
        PINNED_NOW,
      );
      const store = new VisitorStore(new AdmissionLog(sql), 2);
      store.restore(new AdmissionLog(sql).writtenSince(0, 'another run', store.room()), PINNED_NOW);
      const got = store.get('a');
      console.log('a after restore:', got?.seq, 'rowId', store.rowId('a'));
      // The log's latest state of 'a' is seq 3 (row 3).
      expect(got?.seq).toBe(3);
    });
  });
});
