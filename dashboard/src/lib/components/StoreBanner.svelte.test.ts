import { render, screen } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import StoreBanner from './StoreBanner.svelte';
import { storeProblem } from './store-health.ts';

const answer =
  (body: unknown, status = 503) =>
  async () =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('StoreBanner', () => {
  it('says the database is full, and that events are kept, from a 503 health answer', async () => {
    const body = {
      status: 'degraded',
      stores: { d1: { status: 'failing', code: 'store_full' }, queue: { status: 'ok' } },
    };
    render(StoreBanner, { load: answer(body) });
    const banner = await screen.findByRole('alert');
    expect(banner.textContent).toMatch(/database is full.*kept/);
  });

  it('shows nothing while every store works, or when health cannot be read', async () => {
    const ok = vi.fn(answer({ status: 'ok', stores: { d1: { status: 'ok' }, queue: { status: 'ok' } } }, 200));
    const { unmount } = render(StoreBanner, { load: ok });
    await vi.waitFor(() => expect(ok).toHaveBeenCalled());
    expect(screen.queryByRole('alert')).toBeNull();
    unmount();
    render(StoreBanner, { load: () => Promise.reject(new TypeError('offline')) });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(screen.queryByRole('alert')).toBeNull();
  });
});

describe('storeProblem', () => {
  it('names the failing store', () => {
    expect(storeProblem({ stores: { d1: { status: 'failing', code: 'store_unavailable' } } })).toMatch(
      /database is unavailable/,
    );
    expect(storeProblem({ stores: { queue: { status: 'failing', code: 'queue_unavailable' } } })).toMatch(/queue/);
    expect(storeProblem({ stores: { durableObject: { status: 'failing', code: 'unavailable' } } })).toMatch(/intake/);
    expect(storeProblem({ stores: { d1: { status: 'unknown', code: 'fault_registry_unavailable' } } })).toMatch(
      /cannot be told/,
    );
    expect(storeProblem({ stores: { d1: { status: 'ok' } } })).toBeNull();
    expect(storeProblem(null)).toBeNull();
  });
});
