import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDays,
  bucketIndex,
  buckets,
  dayBounds,
  firstInstantAt,
  formatDate,
  type Interval,
  localDate,
  localTime,
} from '../src/shared/calendar.ts';

/** Zones with DST (1 h and 30 min), odd offsets, southern-hemisphere DST, and none at all. */
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Santiago',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'America/St_Johns',
  'Asia/Kolkata',
  'Pacific/Kiritimati',
];
const HOUR = 3_600_000;
const zone = fc.constantFrom(...ZONES);
/** Instants from 2020 to 2032. */
const instant = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2032, 0, 1) });

describe('local days', () => {
  it('start at the first instant of their date and end where the next date begins (property)', () => {
    fc.assert(
      fc.property(instant, zone, (t, tz) => {
        const date = localDate(t, tz);
        const { start, end } = dayBounds(date, tz);
        expect(start).toBeLessThanOrEqual(t);
        expect(end).toBeGreaterThan(t);
        expect(localDate(start, tz)).toEqual(date);
        expect(localDate(end - 1, tz)).toEqual(date);
        expect(localDate(start - 1, tz)).toEqual(addDays(date, -1));
        expect(localDate(end, tz)).toEqual(addDays(date, 1));
      }),
      { numRuns: 300 },
    );
  });

  it('are 23 and 25 hours long on the DST days of Europe/Berlin', () => {
    const length = (day: number, month: number) => {
      const { start, end } = dayBounds({ year: 2026, month, day }, 'Europe/Berlin');
      return (end - start) / HOUR;
    };
    expect([length(28, 3), length(29, 3), length(30, 3)]).toEqual([24, 23, 24]);
    expect([length(24, 10), length(25, 10), length(26, 10)]).toEqual([24, 25, 24]);
  });

  it('begin after the gap where a zone skips midnight', () => {
    // America/Santiago moves its clocks from 00:00 to 01:00 on its spring-forward night.
    let found = false;
    for (let date = { year: 2026, month: 8, day: 1 }; date.month < 10; date = addDays(date, 1)) {
      const { start, end } = dayBounds(date, 'America/Santiago');
      if (end - start === 23 * HOUR && localTime(start, 'America/Santiago').hour === 1) {
        found = true;
        expect(localDate(start - 1, 'America/Santiago')).toEqual(addDays(date, -1));
      }
    }
    expect(found).toBe(true);
  });
});

describe('buckets', () => {
  const intervals: Interval[] = ['hour', 'day', 'week', 'month'];
  const range = fc
    .tuple(instant, fc.integer({ min: 0, max: 70 }), zone, fc.constantFrom(...intervals))
    .map(([t, length, tz, interval]) => {
      const from = localDate(t, tz);
      return { from, to: addDays(from, interval === 'hour' ? Math.min(length, 3) : length), tz, interval };
    });

  it('are contiguous, cover the range exactly, and hold only instants of their label (property)', () => {
    fc.assert(
      fc.property(range, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), (r, samples) => {
        const list = buckets(r.from, r.to, r.interval, r.tz);
        const start = firstInstantAt(r.from, r.tz);
        const end = firstInstantAt(addDays(r.to, 1), r.tz);
        expect(list[0]?.start).toBe(start);
        expect(list.at(-1)?.end).toBe(end);
        list.forEach((bucket, index) => {
          expect(bucket.end).toBeGreaterThan(bucket.start);
          if (index > 0) expect(bucket.start).toBe(list[index - 1]?.end);
        });
        for (const sample of samples) {
          const t = Math.floor(start + sample * (end - start - 1));
          const bucket = list[bucketIndex(list, t)];
          expect(bucket).toBeDefined();
          const local = localTime(t, r.tz);
          const day = formatDate(local);
          if (r.interval === 'hour') expect(bucket?.label).toBe(`${day} ${String(local.hour).padStart(2, '0')}:00`);
          if (r.interval === 'day') expect(bucket?.label).toBe(day);
          if (r.interval === 'month') expect(bucket?.label.slice(0, 7)).toBe(day.slice(0, 7));
          if (r.interval === 'week') {
            // Labelled by its Monday: the instant's date lies 0–6 days after it.
            const monday = bucket?.label ?? '';
            expect(
              day >= monday && day <= formatDate(addDays(localDate(Date.parse(`${monday}T12:00:00Z`), 'UTC'), 6)),
            ).toBe(true);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('skip the hour DST removes and make the repeated hour one bucket of two hours', () => {
    const spring = buckets(
      { year: 2026, month: 3, day: 29 },
      { year: 2026, month: 3, day: 29 },
      'hour',
      'Europe/Berlin',
    );
    expect(spring).toHaveLength(23);
    expect(spring.map((b) => b.label)).not.toContain('2026-03-29 02:00');
    const autumn = buckets(
      { year: 2026, month: 10, day: 25 },
      { year: 2026, month: 10, day: 25 },
      'hour',
      'Europe/Berlin',
    );
    expect(autumn).toHaveLength(24);
    const repeated = autumn.find((b) => b.label === '2026-10-25 02:00');
    expect(repeated && repeated.end - repeated.start).toBe(2 * HOUR);
  });

  it('clip weeks and months to the range', () => {
    // 2026-06-10 is a Wednesday.
    const weeks = buckets({ year: 2026, month: 6, day: 10 }, { year: 2026, month: 6, day: 20 }, 'week', 'UTC');
    expect(weeks.map((b) => b.label)).toEqual(['2026-06-08', '2026-06-15']);
    expect(weeks[0]?.start).toBe(Date.UTC(2026, 5, 10));
    expect(weeks[1]?.end).toBe(Date.UTC(2026, 5, 21));
  });
});
