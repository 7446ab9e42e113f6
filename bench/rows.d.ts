/** The events table's columns, in the order of a row's values (checked against the live table). */
export declare const EVENT_COLUMNS: readonly string[];
/** One event's values in `EVENT_COLUMNS` order, booleans as 0 and 1 (as SQLite binds them). */
export type Row = (string | number | null)[];
export declare const DAY_MS = 86400000;
/** Counters shared across days so that ids stay unique in one dataset. */
export interface RowCounter {
    next: number;
}
/**
 * Events of one UTC day for a project, about `target` of them, sorted by time. One visit in four
 * comes from a visitor already seen that day.
 */
export declare function dayRows(projectId: string, dayStart: number, target: number, rand: () => number, counter: RowCounter): Row[];
/** A row as the queue carries it: the drizzle schema's keys (`StoredEvent`), booleans as booleans. */
export declare function storedEvent(row: Row): Record<string, unknown>;
