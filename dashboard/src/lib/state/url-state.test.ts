import { describe, expect, it } from 'vitest';
import {
  DEFAULT_STATE,
  type DashboardState,
  type Filter,
  formatFilter,
  MAX_FILTERS,
  parseFilter,
  parseState,
  stateToSearch,
  withFilter,
  withFilterAt,
  withoutFilter,
  withPeriod,
} from './url-state.ts';

const roundTrip = (state: DashboardState) => parseState(new URLSearchParams(stateToSearch(state)));

describe('parseState', () => {
  it('gives the defaults for an empty query', () => {
    expect(parseState(new URLSearchParams(''))).toEqual(DEFAULT_STATE);
  });

  it('reads period, comparison, interval, metric and filters', () => {
    const state = parseState(
      new URLSearchParams('period=7d&compare=previous_period&interval=hour&metric=bounce_rate&f=is,country,DE,AT'),
    );
    expect(state).toEqual({
      ...DEFAULT_STATE,
      period: '7d',
      compare: 'previous_period',
      interval: 'hour',
      metric: 'bounce_rate',
      filters: [['is', 'country', ['DE', 'AT']]],
    });
  });

  it('falls back field by field on nonsense', () => {
    const state = parseState(
      new URLSearchParams(
        'period=forever&compare=yes&interval=minute&metric=revenue&f=like,page,/x&f=is,time:day,x&f=is',
      ),
    );
    expect(state).toEqual(DEFAULT_STATE);
  });

  it('takes a custom range only with two real dates, in order', () => {
    expect(parseState(new URLSearchParams('period=custom&from=2026-02-10&to=2026-01-05'))).toMatchObject({
      period: 'custom',
      from: '2026-01-05',
      to: '2026-02-10',
    });
    expect(parseState(new URLSearchParams('period=custom&from=2026-02-30&to=2026-03-01')).period).toBe('30d');
    expect(parseState(new URLSearchParams('period=custom&from=2026-02-01')).period).toBe('30d');
  });

  it('refuses goal filters other than `is` with names', () => {
    expect(parseFilter('is_not,event:goal,Signup')).toBeNull();
    expect(parseFilter('is,event:goal,')).toBeNull();
    expect(parseFilter('is,event:goal,Signup')).toEqual(['is', 'event:goal', ['Signup']]);
  });

  it(`keeps at most ${MAX_FILTERS} filters`, () => {
    const query = Array.from({ length: 30 }, (_, i) => `f=is,page,/${i}`).join('&');
    expect(parseState(new URLSearchParams(query)).filters).toHaveLength(MAX_FILTERS);
  });
});

describe('filters in the URL', () => {
  it('writes an empty value for "no value" and reads it back as null', () => {
    expect(formatFilter(['is', 'source', [null]])).toBe('is,source,');
    expect(parseFilter('is,source,')).toEqual(['is', 'source', [null]]);
  });

  it('escapes commas and percent signs inside parts', () => {
    const filter: Filter = ['contains', 'event:props:a,b', ['50%', 'x,y', '%2C']];
    expect(parseFilter(formatFilter(filter))).toEqual(filter);
  });

  it('keeps paths readable in the URL', () => {
    const search = stateToSearch({ ...DEFAULT_STATE, filters: [['is', 'page', ['/blog/a b']]] });
    expect(search).toBe('?f=is,page,/blog/a%20b');
  });

  it('survives any text through a URL and back', () => {
    // A seeded generator over the characters that break naive encodings.
    const alphabet = [
      ',',
      '%',
      '&',
      '=',
      '+',
      '#',
      '?',
      '/',
      ' ',
      ':',
      'é',
      '😀',
      '\\',
      '"',
      '<',
      'a',
      'Z',
      '0',
      '2',
      'C',
    ];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const text = () =>
      Array.from({ length: 1 + Math.floor(random() * 8) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(
        '',
      );
    for (let i = 0; i < 500; i++) {
      const filters: Filter[] = [
        ['is', `event:props:${text()}`, [text(), null]],
        ['contains', 'page', [text()]],
      ];
      const state: DashboardState = { ...DEFAULT_STATE, period: '7d', filters };
      const url = new URL(`https://dash.example/projects/x${stateToSearch(state)}`);
      expect(parseState(url.searchParams)).toEqual(state);
    }
  });
});

describe('stateToSearch', () => {
  it('leaves defaults out', () => {
    expect(stateToSearch(DEFAULT_STATE)).toBe('');
    expect(stateToSearch({ ...DEFAULT_STATE, period: 'today' })).toBe('?period=today');
  });

  it('round-trips every field', () => {
    const state: DashboardState = {
      period: 'custom',
      from: '2026-01-01',
      to: '2026-01-31',
      compare: 'year_over_year',
      interval: 'week',
      metric: 'visit_duration',
      filters: [
        ['is', 'country', ['DE']],
        ['is_not', 'source', [null, 'Google']],
      ],
    };
    expect(roundTrip(state)).toEqual(state);
  });
});

describe('changing the state', () => {
  it('replaces an `is` filter on the same dimension instead of stacking it', () => {
    const once = withFilter(DEFAULT_STATE, 'country', 'DE');
    const twice = withFilter(once, 'country', 'FR');
    expect(twice.filters).toEqual([['is', 'country', ['FR']]]);
    expect(withFilter(twice, 'page', '/a').filters).toHaveLength(2);
  });

  it('removes one filter by its position', () => {
    const state = withFilter(withFilter(DEFAULT_STATE, 'country', 'DE'), 'page', '/a');
    expect(withoutFilter(state, 0).filters).toEqual([['is', 'page', ['/a']]]);
  });

  it('resets a chosen interval when the range changes', () => {
    const state = { ...DEFAULT_STATE, interval: 'hour' as const };
    expect(withPeriod(state, '12mo')).toMatchObject({ period: '12mo', interval: null });
    expect(withPeriod(state, 'custom', '2026-03-02', '2026-03-01')).toMatchObject({
      period: 'custom',
      from: '2026-03-01',
      to: '2026-03-02',
    });
    expect(withPeriod(state, 'custom', 'nope', '2026-03-01')).toBe(state);
  });
});

describe('withFilterAt', () => {
  const state: DashboardState = {
    ...DEFAULT_STATE,
    filters: [
      ['is', 'country', ['DE']],
      ['contains', 'page', ['/blog']],
    ],
  };

  it('adds a filter of several values', () => {
    expect(withFilterAt(state, null, ['is_not', 'source', [null, 'Google']]).filters).toEqual([
      ...state.filters,
      ['is_not', 'source', [null, 'Google']],
    ]);
  });

  it('joins an added filter to one of the same operator and dimension (OR), without duplicates', () => {
    expect(withFilterAt(state, null, ['is', 'country', ['AT', 'DE']]).filters).toEqual([
      ['is', 'country', ['DE', 'AT']],
      ['contains', 'page', ['/blog']],
    ]);
  });

  it('replaces the edited filter in its place, operator and dimension included', () => {
    expect(withFilterAt(state, 0, ['is_not', 'region', ['Bavaria']]).filters).toEqual([
      ['is_not', 'region', ['Bavaria']],
      ['contains', 'page', ['/blog']],
    ]);
  });

  it('removes an edited filter left without values, and adds nothing without values', () => {
    expect(withFilterAt(state, 1, ['contains', 'page', []]).filters).toEqual([['is', 'country', ['DE']]]);
    expect(withFilterAt(state, null, ['is', 'page', []])).toBe(state);
  });

  it('refuses time dimensions, a missing index and more filters than the API takes', () => {
    expect(withFilterAt(state, null, ['is', 'time:day', ['2026-01-01']])).toBe(state);
    expect(withFilterAt(state, 5, ['is', 'page', ['/']])).toBe(state);
    const full: DashboardState = {
      ...DEFAULT_STATE,
      filters: Array.from({ length: MAX_FILTERS }, (_, i): Filter => ['is', `event:props:k${i}`, ['x']]),
    };
    expect(withFilterAt(full, null, ['is', 'country', ['DE']])).toBe(full);
  });

  it('keeps at most 50 values', () => {
    const many = Array.from({ length: 60 }, (_, i) => `/${i}`);
    expect(withFilterAt(DEFAULT_STATE, null, ['is', 'page', many]).filters[0]?.[2]).toHaveLength(50);
  });
});
