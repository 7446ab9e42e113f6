import { dimensionDefinition, metricColumn } from '@tally/sdk/catalog';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STATE, type DashboardState, parseState } from '../../state/url-state.ts';
import { DEVICE_TABS, LOCATION_TABS, PAGE_TABS, SOURCE_TABS } from '../panels.ts';
import {
  DETAIL_PAGE_SIZE,
  type DetailState,
  type DetailTarget,
  detailCsvQuery,
  detailQuery,
  detailTarget,
  nextSort,
  parseDetail,
  withDetailSearch,
} from './detail-state.ts';

const page = (search: string) => parseDetail(new URLSearchParams(search));

function targetOf(dimension: string): DetailTarget {
  const found = detailTarget(dimension);
  if (!found) throw new Error(`no detail view for ${dimension}`);
  return found;
}

describe('detailTarget', () => {
  it('takes a tab’s dimension with the panel’s metrics, then those its export file adds', () => {
    for (const tab of [...SOURCE_TABS, ...PAGE_TABS, ...LOCATION_TABS, ...DEVICE_TABS]) {
      const found = targetOf(tab.dimension);
      const exported = dimensionDefinition(tab.dimension)?.export?.metrics ?? [];
      expect(found.metrics.slice(0, tab.metrics.length), tab.dimension).toEqual(tab.metrics);
      expect(new Set(found.metrics), tab.dimension).toEqual(new Set([...tab.metrics, ...exported]));
      expect(found.metrics).toHaveLength(new Set(found.metrics).size);
      expect(found.columns).toEqual(found.metrics.map(metricColumn));
    }
    expect(detailTarget('source')).toMatchObject({
      dimension: 'source',
      title: 'Source',
      metrics: ['visitors', 'visits', 'pageviews', 'bounce_rate', 'visit_duration'],
      columns: ['Visitors', 'Visits', 'Views', 'Bounce rate', 'Visit duration'],
      filters: [],
    });
  });

  it('takes each tab of a panel (entry and exit pages) and a tab’s options (UTM)', () => {
    expect(detailTarget('entry_page')?.dimension).toBe('entry_page');
    expect(detailTarget('exit_page')?.dimension).toBe('exit_page');
    expect(detailTarget('utm_campaign')?.title).toBe('UTM campaign');
  });

  it('breaks a custom property down by visitors and events, and custom events without pageviews', () => {
    expect(detailTarget('event:props:plan')).toMatchObject({
      title: 'Property plan',
      metrics: ['visitors', 'events'],
      filters: [['is_not', 'event:props:plan', [null]]],
    });
    expect(detailTarget('event:name')).toMatchObject({
      title: 'Custom events',
      filters: [['is_not', 'event:name', ['pageview']]],
    });
  });

  it('knows nothing else', () => {
    expect(detailTarget('event:props:')).toBeNull();
    expect(detailTarget('time:day')).toBeNull();
    expect(detailTarget('nonsense')).toBeNull();
  });
});

describe('the detail view in the URL', () => {
  it('round-trips its state and leaves the dashboard’s parameters as written', () => {
    const state: DetailState = { dimension: 'event:props:plan', search: 'a,b c', sort: ['events', 'asc'], page: 3 };
    const search = withDetailSearch('?period=7d&f=is,country,DE', state);
    expect(search).toBe(
      '?period=7d&f=is,country,DE&detail=event:props:plan&detail_search=a,b%20c&detail_sort=events,asc&detail_page=3',
    );
    expect(page(search)).toEqual(state);
    // The dashboard reads its own state from the same URL, unchanged by the view's.
    expect(parseState(new URLSearchParams(search))).toEqual(
      parseState(new URLSearchParams('?period=7d&f=is,country,DE')),
    );
  });

  it('replaces an earlier state and is removed whole', () => {
    const open = withDetailSearch('?detail=page&detail_page=4&period=7d', {
      dimension: 'source',
      search: '',
      sort: null,
      page: 1,
    });
    expect(open).toBe('?period=7d&detail=source');
    expect(withDetailSearch(open, null)).toBe('?period=7d');
    expect(withDetailSearch('?detail=source', null)).toBe('');
  });

  it('falls back field by field on a hand-edited URL', () => {
    expect(page('?detail=nonsense')).toBeNull();
    expect(page('?period=7d')).toBeNull();
    expect(page('?detail=page&detail_sort=conversion_rate,asc&detail_page=-2')).toEqual({
      dimension: 'page',
      search: '',
      sort: null,
      page: 1,
    });
    expect(page('?detail=page&detail_sort=pageviews,up&detail_page=2.5')?.sort).toBeNull();
  });
});

describe('detailQuery', () => {
  const view: DashboardState = { ...DEFAULT_STATE, period: '7d', filters: [['is', 'country', ['DE']]] };
  const source = targetOf('source');

  it('asks one page of the breakdown under the view’s filters and range, sorted as chosen', () => {
    expect(
      detailQuery('demo', view, source, { dimension: 'source', search: '', sort: ['bounce_rate', 'asc'], page: 2 }),
    ).toEqual({
      project: 'demo',
      metrics: source.metrics,
      date_range: '7d',
      dimensions: ['source'],
      filters: [['is', 'country', ['DE']]],
      order_by: [['bounce_rate', 'asc']],
      limit: DETAIL_PAGE_SIZE,
      page: 2,
    });
  });

  it('searches with contains on the dimension, after the target’s own filters', () => {
    const events = targetOf('event:name');
    const query = detailQuery('demo', view, events, { dimension: 'event:name', search: ' sign ', sort: null, page: 1 });
    expect(query.filters).toEqual([
      ['is', 'country', ['DE']],
      ['is_not', 'event:name', ['pageview']],
      ['contains', 'event:name', ['sign']],
    ]);
    expect(query.order_by).toBeUndefined();
  });

  it('downloads every row (the API’s limit) with the same filters and sort', () => {
    const query = detailQuery('demo', view, source, {
      dimension: 'source',
      search: 'goo',
      sort: ['visits', 'desc'],
      page: 5,
    });
    expect(detailCsvQuery(query)).toEqual({ ...query, limit: 10_000, page: 1, format: 'csv' });
  });
});

describe('nextSort', () => {
  it('sorts a new column descending, then flips it', () => {
    expect(nextSort(['visitors', 'desc'], 'visits')).toEqual(['visits', 'desc']);
    expect(nextSort(['visits', 'desc'], 'visits')).toEqual(['visits', 'asc']);
    expect(nextSort(['visits', 'asc'], 'visits')).toEqual(['visits', 'desc']);
  });
});
