/**
 * Every metric's SQL is written once (`src/stats/metric-sql.ts`): the raw query, a day's rollup
 * statements and its goal rows are built from the same fragments, and hold no aggregate or
 * revenue expression of their own. A copy pasted back into one of them (or a fragment edited
 * while a copy stays behind) fails here, before the oracles would have to find a number it
 * breaks.
 */
import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { rollups } from '../src/db/schema.ts';
import { goalDaySql } from '../src/rollup/goal-rollups.ts';
import { rollupDaySql } from '../src/rollup/rollups.ts';
import { dayBounds, type LocalDate } from '../src/shared/calendar.ts';
import { goalCondition } from '../src/stats/goals.ts';
import {
  EVENT_METRICS,
  EVENT_REVENUE,
  ROLLUP_INSERT,
  ROLLUP_VISIT,
  rollupMetricsSql,
  VISIT_METRICS,
  visitorsSql,
  visitTotalsSql,
} from '../src/stats/metric-sql.ts';
import { aggregateSql } from '../src/stats/sql.ts';

const project = { id: 'p', timezone: 'Europe/Berlin', currency: 'EUR' };
const day: LocalDate = { year: 2026, month: 3, day: 29 }; // 23 hours long in Berlin
const goals = [
  { id: 'g1', key: 'g1:a', kind: 'pageview', path: '/blog/*', eventName: null, propertyKey: null, propertyValue: null },
  { id: 'g2', key: 'g2:b', kind: 'event', path: null, eventName: 'buy', propertyKey: 'plan', propertyValue: 'pro' },
] as const;

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A fragment builder's output for any table names, as a pattern. */
const anyTables = (build: (...tables: string[]) => string, count: number) => {
  const marks = Array.from({ length: count }, (_, i) => `\u0001${i}\u0001`);
  return new RegExp(
    marks.reduce((pattern, mark) => pattern.replaceAll(mark, '\\w+'), literal(build(...marks))),
    'g',
  );
};
/** Every shared fragment, the longest first (ROLLUP_VISIT holds VISIT_METRICS). */
const FRAGMENTS: (string | RegExp)[] = [
  ROLLUP_INSERT,
  anyTables(rollupMetricsSql, 2),
  anyTables(visitTotalsSql, 1),
  ROLLUP_VISIT,
  VISIT_METRICS,
  EVENT_METRICS,
  EVENT_REVENUE,
  anyTables((visitor, day) => visitorsSql(visitor as string, day as string), 2),
];
/** What defines a number: any aggregate, and the revenue columns. */
const DEFINING = ['COUNT(', 'SUM(', 'MAX(ts', 'MIN(ts)', 'revenue_currency', 'revenue_amount'];

/** What is left of `sql` once every shared fragment is taken out. */
function withoutFragments(sql: string): string {
  return FRAGMENTS.reduce<string>((rest, fragment) => rest.replaceAll(fragment, ' '), sql);
}

const count = (sql: string, fragment: string) => sql.split(fragment).length - 1;

const raw = aggregateSql(
  { projectId: 'p', currency: 'EUR', timeZone: project.timezone, ...dayBounds(day, project.timezone) },
  ['event:goal', 'time:hour'],
  [['is', 'page', ['/']]],
  { goals: [{ name: 'buy', condition: goalCondition(goals[1], []) }] },
).sql;
const [byVisit, byEvent] = rollupDaySql(project, day).map((statement) => statement.sql) as [string, string];
const goalRows = goalDaySql(project, day, goals, ['/blog/a', '/blog/a/b']).sql;

describe('metric SQL', () => {
  it.each([
    ['a raw query', raw],
    ['the rollup by visit dimension', byVisit],
    ['the rollup by event dimension', byEvent],
    ['the goal rollup', goalRows],
  ])('%s takes each revenue, bounce and duration from the shared fragments, once', (_, sql) => {
    expect(count(sql, EVENT_REVENUE)).toBe(1);
    expect(count(sql, VISIT_METRICS)).toBe(1);
    expect(sql).toContain(EVENT_METRICS);
  });

  it.each([
    ['a raw query', raw],
    ['the rollup by visit dimension', byVisit],
    ['the rollup by event dimension', byEvent],
    ['the goal rollup', goalRows],
  ])('%s counts and sums nothing of its own', (_, sql) => {
    const rest = withoutFragments(sql);
    for (const token of DEFINING) expect(rest, token).not.toContain(token);
  });

  it('writes every number of a rollup row, each in the column it names, from every rollup statement', () => {
    for (const sql of [byVisit, byEvent, goalRows]) {
      expect(count(sql, ROLLUP_INSERT)).toBe(1);
      expect(sql.match(anyTables(rollupMetricsSql, 2))).toHaveLength(1);
    }
    // The SELECT's numbers land in the INSERT's columns by position: the same names, in the same order.
    const numbers = [...rollupMetricsSql('v', 'e').matchAll(/ AS (\w+)/g)].map((match) => match[1]);
    const inserted = /^INSERT INTO rollups \((.*)\)$/.exec(ROLLUP_INSERT)?.[1]?.split(', ') ?? [];
    expect(inserted).toEqual(['project_id', 'day', 'dimension', 'value', ...numbers]);
    const columns = Object.values(getTableColumns(rollups)).map((column) => column.name);
    expect(inserted).toEqual(columns);
  });
});
