import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Api } from '../../api/client.ts';
import type { QueryRequest, QueryResponse } from '../../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../../state/url-state.ts';
import type { DashboardContext } from '../context.ts';
import DetailDialog from './DetailDialog.svelte';
import { DETAIL_PAGE_SIZE, type DetailState, type DetailTarget } from './detail-state.ts';

/** `count` pages, numbered from `from`, with visitors and views that tell rows apart. */
function pages(count: number, from = 1): QueryResponse {
  return {
    results: Array.from({ length: count }, (_, i) => ({
      dimensions: [`/p${from + i}`],
      metrics: [1000 - from - i, 2 * (from + i)],
    })),
    meta: {},
  };
}

/** The page breakdown as this test knows it (the catalog's own metrics may grow). */
const pageTarget: DetailTarget = {
  dimension: 'page',
  title: 'Page',
  metrics: ['visitors', 'pageviews'],
  columns: ['Visitors', 'Views'],
  filters: [],
};
const VIEW: DashboardState = { ...DEFAULT_STATE, period: '7d', filters: [['is', 'country', ['DE']]] };

function open(answer: (body: QueryRequest) => QueryResponse, start: Partial<DetailState> = {}) {
  const query = vi.fn(async (body: QueryRequest) => answer(body));
  const download = vi.fn(async (_path: string, _body: unknown) => ({
    blob: new Blob(['page,visitors\r\n']),
    filename: 'x.csv',
  }));
  const navigate = vi.fn();
  const ctx: DashboardContext = {
    api: { query, download } as unknown as Api,
    projectId: 'demo',
    view: VIEW,
    navigate,
    settingsHref: null,
    tick: 0,
  };
  let detail: DetailState = { dimension: 'page', search: '', sort: null, page: 1, ...start };
  const onclose = vi.fn();
  const onfilter = vi.fn<(next: DashboardState) => void>();
  // The host's part: it takes each change and hands the new state back.
  const onchange = vi.fn((next: DetailState) => {
    detail = next;
    void view.rerender({ detail });
  });
  const view = render(DetailDialog, {
    // `target` is also a mount option: the props go under `props`.
    props: { ctx, target: pageTarget, detail, onchange, onclose, onfilter },
  });
  return { query, download, onchange, onclose, onfilter, state: () => detail };
}

const header = (name: string) => screen.getByRole('columnheader', { name: new RegExp(`^${name}`) });
const bodyRows = () => within(screen.getAllByRole('rowgroup')[1] as HTMLElement).getAllByRole('row');

afterEach(() => {
  vi.useRealTimers();
});

describe('DetailDialog', () => {
  it('shows one page of the breakdown under the dashboard’s filters and range, with the API’s numbers', async () => {
    const { query } = open(() => pages(3));
    await screen.findByText('/p1');
    expect(query.mock.calls[0]?.[0]).toEqual({
      project: 'demo',
      metrics: ['visitors', 'pageviews'],
      date_range: '7d',
      dimensions: ['page'],
      filters: [['is', 'country', ['DE']]],
      limit: DETAIL_PAGE_SIZE,
      page: 1,
    });
    expect(screen.getByRole('heading', { name: 'Page' })).toBeTruthy();
    expect(screen.getByText('Last 7 days · 1 filter')).toBeTruthy();
    expect(bodyRows().map((row) => [...row.children].map((cell) => cell.textContent?.trim()))).toEqual([
      ['/p1', '999', '2'],
      ['/p2', '998', '4'],
      ['/p3', '997', '6'],
    ]);
    expect(screen.getByText('Rows 1–3')).toBeTruthy();
    // Fewer rows than a page: nothing comes after.
    expect((screen.getByRole('button', { name: 'Next →' }) as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByRole('button', { name: '← Previous' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('pages forward and back while pages are full, showing the row range', async () => {
    const { query, state } = open((body) =>
      pages(body.page === 1 ? DETAIL_PAGE_SIZE : 7, ((body.page ?? 1) - 1) * 50 + 1),
    );
    await screen.findByText('Rows 1–50');
    const next = screen.getByRole('button', { name: 'Next →' }) as HTMLButtonElement;
    expect(next.disabled).toBe(false);
    await fireEvent.click(next);
    expect(state().page).toBe(2);
    await screen.findByText('Rows 51–57');
    expect(query.mock.calls.at(-1)?.[0]).toMatchObject({ limit: DETAIL_PAGE_SIZE, page: 2 });
    expect(screen.getByText('/p51')).toBeTruthy();
    expect(next.disabled).toBe(true);
    await fireEvent.click(screen.getByRole('button', { name: '← Previous' }));
    await screen.findByText('Rows 1–50');
  });

  it('searches with contains on the dimension once typing rests, from the first page', async () => {
    const { query, onchange, state } = open(() => pages(2), { page: 3 });
    await screen.findByText('/p1');
    vi.useFakeTimers();
    await fireEvent.input(screen.getByLabelText('Search Page'), { target: { value: 'blo' } });
    await fireEvent.input(screen.getByLabelText('Search Page'), { target: { value: 'blog' } });
    expect(onchange).not.toHaveBeenCalled();
    vi.advanceTimersByTime(300);
    vi.useRealTimers();
    expect(onchange).toHaveBeenCalledTimes(1);
    expect(state()).toMatchObject({ search: 'blog', page: 1 });
    await waitFor(() =>
      expect(query.mock.calls.at(-1)?.[0].filters).toEqual([
        ['is', 'country', ['DE']],
        ['contains', 'page', ['blog']],
      ]),
    );
  });

  it('says when a search matches nothing', async () => {
    open(() => pages(0), { search: 'zzz' });
    await screen.findByText(/No page contains “zzz” in this range and these filters/);
  });

  it('sorts by a clicked metric column, descending then ascending, and says so with aria-sort', async () => {
    const { query, state } = open(() => pages(2));
    await screen.findByText('/p1');
    // The API's default: the first metric, descending.
    expect(header('Visitors').getAttribute('aria-sort')).toBe('descending');
    expect(header('Views').getAttribute('aria-sort')).toBe('none');
    await fireEvent.click(within(header('Views')).getByRole('button'));
    expect(state().sort).toEqual(['pageviews', 'desc']);
    await waitFor(() => expect(query.mock.calls.at(-1)?.[0].order_by).toEqual([['pageviews', 'desc']]));
    expect(header('Views').getAttribute('aria-sort')).toBe('descending');
    expect(header('Visitors').getAttribute('aria-sort')).toBe('none');
    await fireEvent.click(within(header('Views')).getByRole('button'));
    expect(state().sort).toEqual(['pageviews', 'asc']);
    await waitFor(() => expect(header('Views').getAttribute('aria-sort')).toBe('ascending'));
  });

  it('downloads the breakdown as CSV with the same filters and sort, every row up to the API’s limit', async () => {
    const createObjectURL = vi.fn(() => 'blob:detail');
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL, revokeObjectURL: vi.fn() }));
    const { download } = open(() => pages(2), { search: 'p', sort: ['pageviews', 'asc'], page: 2 });
    await screen.findByText('/p1');
    await fireEvent.click(screen.getByRole('button', { name: 'Download CSV' }));
    await waitFor(() => expect(download).toHaveBeenCalledTimes(1));
    expect(download.mock.calls[0]).toEqual([
      '/api/v1/query',
      {
        project: 'demo',
        metrics: ['visitors', 'pageviews'],
        date_range: '7d',
        dimensions: ['page'],
        filters: [
          ['is', 'country', ['DE']],
          ['contains', 'page', ['p']],
        ],
        order_by: [['pageviews', 'asc']],
        limit: 10_000,
        page: 1,
        format: 'csv',
      },
    ]);
    await waitFor(() => expect(createObjectURL).toHaveBeenCalledTimes(1));
    vi.unstubAllGlobals();
  });

  it('filters the dashboard by a clicked value, and closes from its button', async () => {
    const { onfilter, onclose } = open(() => pages(2));
    await fireEvent.click(await screen.findByTitle('Filter the dashboard by Page: /p2'));
    expect(onfilter.mock.calls[0]?.[0].filters).toEqual([
      ['is', 'country', ['DE']],
      ['is', 'page', ['/p2']],
    ]);
    await fireEvent.click(screen.getByRole('button', { name: 'Close' }));
    expect(onclose).toHaveBeenCalledTimes(1);
  });
});
