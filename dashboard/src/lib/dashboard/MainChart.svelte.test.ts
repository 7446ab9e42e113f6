import { render } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import MainChart from './MainChart.svelte';

interface Tick {
  callback: (value: number) => string;
}
interface Tooltip {
  callbacks: { label: (item: { raw: number; datasetIndex: number; dataIndex: number }) => string };
}

/** The chart as MainChart configures it (Chart.js itself needs a real canvas: the e2e tests draw it). */
const charts = vi.hoisted(() => [] as { options: { scales: { y: { ticks: Tick } }; plugins: { tooltip: Tooltip } } }[]);
vi.mock('./chart.ts', () => ({
  Chart: class {
    options = { scales: { x: {}, y: {} }, plugins: { tooltip: {} } };
    data = { labels: [], datasets: [] };
    constructor() {
      charts.push(this as never);
    }
    update() {}
    destroy() {}
  },
}));

describe('MainChart', () => {
  it("draws revenue in the project's currency, on the axis and in the tooltip", async () => {
    render(MainChart, {
      labels: ['2026-02-01', '2026-02-02'],
      current: [120, 1500.5],
      comparison: null,
      comparisonLabels: null,
      metric: 'revenue',
      metricLabel: 'Revenue',
      interval: 'day',
      currency: 'EUR',
    });
    await vi.waitFor(() => expect(charts[0]?.options.plugins.tooltip.callbacks).toBeDefined());
    const options = charts[0]?.options;
    expect(options?.scales.y.ticks.callback(500)).toBe('€500');
    expect(options?.plugins.tooltip.callbacks.label({ raw: 1500.5, datasetIndex: 0, dataIndex: 1 })).toBe(
      'Revenue: €1,501',
    );
  });
});
