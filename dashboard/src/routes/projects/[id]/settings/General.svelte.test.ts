import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import type { Project } from '$lib/api/types.ts';

const patch = vi.fn(async (_path: string, body: Record<string, unknown>) => ({ ...PROJECT, ...body }));
vi.mock('$lib/api/index.ts', async () => {
  const client = await import('$lib/api/client.ts');
  return { ApiError: client.ApiError, api: { patch } };
});
const { default: General } = await import('./General.svelte');

const PROJECT: Project = {
  id: 'demo',
  name: 'Demo',
  siteKey: 'demo',
  timezone: 'UTC',
  timezoneFrom: null,
  retentionDays: 365,
  publicLive: false,
  currency: 'USD',
  rateLimits: null,
  hostnames: [],
  role: 'owner',
  createdAt: 0,
  updatedAt: 0,
} as Project;

describe('General settings: lowering retention', () => {
  it('asks first, naming the days of raw events that go; Cancel saves nothing, a second try confirms', async () => {
    const onchange = vi.fn();
    render(General, { project: PROJECT, admin: true, onchange });
    await fireEvent.input(screen.getByLabelText(/^Keep raw events for/), { target: { value: '5' } });
    const save = screen.getByRole('button', { name: 'Save changes' });
    await fireEvent.click(save);
    const dialog = await screen.findByRole('dialog', { name: 'Delete 360 days of raw events?' });
    expect(dialog.textContent).toContain('for 5 instead of 365 days');
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(patch).not.toHaveBeenCalled();

    await fireEvent.click(save);
    await waitFor(() => expect((screen.getByRole('dialog', { hidden: true }) as HTMLDialogElement).open).toBe(true));
    await fireEvent.click(screen.getByRole('button', { name: 'Delete 360 days and save' }));
    await waitFor(() => expect(patch).toHaveBeenCalledTimes(1));
    expect(patch.mock.calls[0]?.[1]).toMatchObject({ retentionDays: 5 });
  });

  it('saves a longer retention at once', async () => {
    patch.mockClear();
    render(General, { project: PROJECT, admin: true, onchange: vi.fn() });
    await fireEvent.input(screen.getByLabelText(/^Keep raw events for/), { target: { value: '400' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(patch).toHaveBeenCalledTimes(1));
  });
});
