import { fireEvent, render, screen } from '@testing-library/svelte';
import type { ComponentProps } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import ConfirmDialog from './ConfirmDialog.svelte';

function renderDialog(props: Partial<ComponentProps<typeof ConfirmDialog>> = {}) {
  const onconfirm = vi.fn(props.onconfirm ?? (async () => {}));
  const { container } = render(ConfirmDialog, {
    open: true,
    title: 'Revoke “backend”?',
    action: 'Revoke key',
    ...props,
    onconfirm,
  });
  return { dialog: container.querySelector('dialog') as HTMLDialogElement, onconfirm };
}

describe('ConfirmDialog', () => {
  it('opens as a modal named by its title', () => {
    const { dialog } = renderDialog();
    expect(dialog.open).toBe(true);
    const title = document.getElementById(dialog.getAttribute('aria-labelledby') ?? '');
    expect(title?.textContent).toBe('Revoke “backend”?');
  });

  it('runs the action on confirm, then closes', async () => {
    const { dialog, onconfirm } = renderDialog();
    await fireEvent.click(screen.getByRole('button', { name: 'Revoke key' }));
    await vi.waitFor(() => expect(dialog.open).toBe(false));
    expect(onconfirm).toHaveBeenCalledTimes(1);
  });

  it('closes on cancel without running the action', async () => {
    const { dialog, onconfirm } = renderDialog();
    await fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(dialog.open).toBe(false);
    expect(onconfirm).not.toHaveBeenCalled();
  });

  it('stays open and says why when the action fails', async () => {
    const { dialog } = renderDialog({
      onconfirm: async () => {
        throw new Error('The key is already revoked.');
      },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Revoke key' }));
    expect(await screen.findByText('The key is already revoked.')).toBeTruthy();
    expect(dialog.open).toBe(true);
  });

  it('wakes the button only once the confirmation text is typed', async () => {
    const { onconfirm } = renderDialog({ action: 'Delete project', confirmText: 'my-site' });
    const button = screen.getByRole('button', { name: 'Delete project' }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText(/to confirm/), { target: { value: 'my-sit' } });
    expect(button.disabled).toBe(true);
    await fireEvent.input(screen.getByLabelText(/to confirm/), { target: { value: 'my-site' } });
    expect(button.disabled).toBe(false);
    await fireEvent.click(button);
    expect(onconfirm).toHaveBeenCalledTimes(1);
  });

  it('gives each dialog on a page its own title id', () => {
    renderDialog({ title: 'Rotate?' });
    renderDialog({ title: 'Delete?' });
    const dialogs = [...document.querySelectorAll('dialog')];
    const ids = dialogs.map((dialog) => dialog.getAttribute('aria-labelledby'));
    expect(new Set(ids).size).toBe(2);
    expect(ids.map((id) => document.getElementById(id ?? '')?.textContent)).toEqual(['Rotate?', 'Delete?']);
  });
});
