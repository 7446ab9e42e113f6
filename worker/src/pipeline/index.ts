/**
 * The pipeline from the queue into D1: batched, idempotent inserts, retries with backoff, a
 * quarantine for what can never be written, and a dead-letter consumer that replays.
 */
export { consumeBatch, DEAD_LETTER_QUEUE, parseMessage } from './consumer.ts';
export * from './messages.ts';
export { insertEventStatements } from '../store/index.ts';
