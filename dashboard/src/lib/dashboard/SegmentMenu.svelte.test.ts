import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { describe, expect, it, vi } from 'vitest';
import { type Api, ApiError } from '../api/client.ts';
import type { Segment } from '../api/types.ts';
import { DEFAULT_STATE, type DashboardState } from '../state/url-state.ts';
import SegmentMenu from './SegmentMenu.svelte';

const GERMANS: Segment = {
  id: 's1',
  name: 'Germans',
  filters: [['is', 'country', ['DE']]],
  createdBy: 'u1',
  createdAt: 1,
  updatedAt: 1,
};
const NO_BLOG: Segment = {
  ...GERMANS,
  id: 's2',
  name: 'No blog',
  filters: [['does_not_contain', 'page', ['/blog', '/docs']]],
};

function open(view: DashboardState, canManage: boolean, segments: Segment[] = [GERMANS, NO_BLOG]) {
  let stored = [...segments];
  const get = vi.fn(async () => ({ segments: stored }));
  const post = vi.fn(async (_path: string, body: { name: string; filters: Segment['filters'] }) => {
    if (stored.some((segment) => segment.name === body.name)) {
      throw new ApiError(409, 'conflict', 'Another segment has this name', [{ path: ['name'], message: 'taken' }]);
    }
    stored = [...stored, { ...GERMANS, id: 's3', ...body }];
    return stored.at(-1);
  });
  const patch = vi.fn(async () => undefined);
  const del = vi.fn(async (path: string) => {
    stored = stored.filter((segment) => !path.endsWith(`/${segment.id}`));
  });
  const api = { get, post, patch, delete: del } as unknown as Api;
  const onapply = vi.fn<(next: DashboardState) => void>();
  render(SegmentMenu, { api, projectId: 'demo', view, canManage, onapply, onclose: vi.fn() });
  return { get, post, patch, del, onapply };
}

describe('SegmentMenu', () => {
  it('lists the segments in words and applies one, replacing the filters', async () => {
    const view: DashboardState = { ...DEFAULT_STATE, period: '30d', filters: [['is', 'browser', ['Firefox']]] };
    const { get, onapply } = open(view, false);
    const apply = await screen.findByRole('button', { name: 'Apply segment No blog' });
    expect(get).toHaveBeenCalledWith('/api/projects/demo/segments');
    expect(apply.textContent).toContain('Page does not contain /blog nor /docs');
    await fireEvent.click(apply);
    expect(onapply).toHaveBeenCalledWith({ ...view, filters: NO_BLOG.filters });
  });

  it('offers viewers nothing to change', async () => {
    open({ ...DEFAULT_STATE, filters: [['is', 'country', ['DE']]] }, false);
    await screen.findByRole('button', { name: 'Apply segment Germans' });
    expect(screen.queryByRole('button', { name: /Rename|Delete|Save segment/ })).toBeNull();
    expect(screen.queryByLabelText('Save the current filters as')).toBeNull();
  });

  it('marks the segment whose filters the view has', async () => {
    open({ ...DEFAULT_STATE, filters: [['is', 'country', ['DE']]] }, false);
    const current = await screen.findByRole('button', { name: 'Apply segment Germans' });
    expect(current.getAttribute('aria-current')).toBe('true');
    expect(screen.getByRole('button', { name: 'Apply segment No blog' }).getAttribute('aria-current')).toBeNull();
  });

  it('saves the current filters under a name, and says when the name is taken', async () => {
    const filters: DashboardState['filters'] = [['contains', 'source', ['oo']]];
    const { post } = open({ ...DEFAULT_STATE, filters }, true);
    await screen.findByRole('button', { name: 'Apply segment Germans' });
    await fireEvent.input(screen.getByLabelText('Save the current filters as'), { target: { value: ' Search ' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save segment' }));
    expect(post).toHaveBeenCalledWith('/api/projects/demo/segments', { name: 'Search', filters });
    await screen.findByRole('button', { name: 'Apply segment Search' });
    await fireEvent.input(screen.getByLabelText('Save the current filters as'), { target: { value: 'Germans' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save segment' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Another segment has this name');
  });

  it('cannot save without filters', async () => {
    open(DEFAULT_STATE, true);
    await screen.findByRole('button', { name: 'Apply segment Germans' });
    expect((screen.getByRole('button', { name: 'Save segment' }) as HTMLButtonElement).disabled).toBe(true);
  });

  it('renames, and deletes after a second click', async () => {
    const { patch, del } = open(DEFAULT_STATE, true);
    await fireEvent.click(await screen.findByRole('button', { name: 'Rename segment Germans' }));
    await fireEvent.input(screen.getByLabelText('New name of Germans'), { target: { value: 'DE' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(patch).toHaveBeenCalledWith('/api/projects/demo/segments/s1', { name: 'DE' });

    await fireEvent.click(await screen.findByRole('button', { name: 'Delete segment No blog' }));
    expect(del).not.toHaveBeenCalled();
    await fireEvent.click(screen.getByRole('button', { name: 'Delete No blog' }));
    expect(del).toHaveBeenCalledWith('/api/projects/demo/segments/s2');
    await waitFor(() => expect(screen.queryByRole('button', { name: 'Apply segment No blog' })).toBeNull());
  });
});
