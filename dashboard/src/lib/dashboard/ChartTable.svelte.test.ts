import { fireEvent, render, screen, within } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import ChartTable from './ChartTable.svelte';

const BASE = {
  labels: ['2026-03-01', '2026-03-02', '2026-03-03'],
  current: [1200, 0, null],
  comparison: null,
  comparisonLabels: null,
  metric: 'visitors' as const,
  metricLabel: 'Visitors',
  interval: 'day' as const,
};

const rows = () =>
  within(screen.getByRole('table'))
    .getAllByRole('row')
    .map((row) => [...row.children].map((cell) => cell.textContent?.trim()));

describe('ChartTable', () => {
  it('holds the chart’s numbers, one row per bucket, future buckets as a dash', () => {
    render(ChartTable, BASE);
    expect(screen.getByRole('table', { name: 'Visitors by day' })).toBeTruthy();
    const [head, ...body] = rows();
    expect(head).toEqual(['Day', 'Visitors']);
    expect(body).toHaveLength(3);
    expect(body.map((row) => row[1])).toEqual(['1.2k', '0', '—']);
    expect(screen.getAllByRole('rowheader')).toHaveLength(3);
  });

  it('adds the compared period’s buckets and numbers', () => {
    render(ChartTable, {
      ...BASE,
      comparison: [10, 20, 30],
      comparisonLabels: ['2026-02-26', '2026-02-27', '2026-02-28'],
    });
    expect(screen.getByRole('table', { name: 'Visitors by day, with the compared period' })).toBeTruthy();
    const [head, first] = rows();
    expect(head).toEqual(['Day', 'Visitors', 'Compared day', 'Visitors (compared)']);
    expect(first?.[3]).toBe('10');
  });

  it('is hidden to the eye until its toggle shows it', async () => {
    render(ChartTable, BASE);
    const toggle = screen.getByRole('button', { name: 'Show as table' });
    const holder = document.getElementById(toggle.getAttribute('aria-controls') ?? '');
    expect(holder?.classList.contains('visually-hidden')).toBe(true);
    await fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    expect(toggle.textContent?.trim()).toBe('Hide table');
    expect(holder?.classList.contains('visually-hidden')).toBe(false);
  });
});
