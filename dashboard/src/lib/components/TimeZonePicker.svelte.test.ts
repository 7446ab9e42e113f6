import { fireEvent, render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import TimeZonePicker from './TimeZonePicker.svelte';

const field = () => screen.getByRole('combobox', { name: /^Timezone/ }) as HTMLInputElement;
const options = () => screen.queryAllByRole('option').map((option) => option.textContent?.replace(/\s+/g, ' ').trim());

describe('TimeZonePicker', () => {
  it('shows the chosen zone and its offset, with the list closed', () => {
    render(TimeZonePicker, { value: 'Asia/Kolkata' });
    expect(field().value).toBe('Asia/Kolkata');
    expect(field().getAttribute('aria-expanded')).toBe('false');
    expect(screen.getByText('(now UTC+05:30)')).toBeTruthy();
  });

  it('finds a zone by its old name, never listing the old name itself', async () => {
    render(TimeZonePicker, { value: 'UTC' });
    await fireEvent.input(field(), { target: { value: 'calcutta' } });
    expect(options()).toEqual(['Asia/Kolkata (formerly Asia/Calcutta) UTC+05:30']);
    await fireEvent.input(field(), { target: { value: 'kiev' } });
    expect(options()).toEqual([expect.stringMatching(/^Europe\/Kyiv \(formerly Europe\/Kiev\) UTC\+0[23]:00$/)]);
  });

  it('picks with the arrows and Enter, and Escape puts the chosen zone back', async () => {
    render(TimeZonePicker, { value: 'UTC' });
    await fireEvent.input(field(), { target: { value: 'berlin' } });
    await fireEvent.keyDown(field(), { key: 'ArrowDown' });
    expect(field().getAttribute('aria-activedescendant')).toBeTruthy();
    await fireEvent.keyDown(field(), { key: 'Enter' });
    expect(field().value).toBe('Europe/Berlin');
    expect(field().getAttribute('aria-expanded')).toBe('false');
    await fireEvent.input(field(), { target: { value: 'tokyo' } });
    await fireEvent.keyDown(field(), { key: 'Escape' });
    expect(field().value).toBe('Europe/Berlin');
  });

  it('says when nothing matches', async () => {
    render(TimeZonePicker, { value: 'UTC' });
    await fireEvent.input(field(), { target: { value: 'Atlantis' } });
    expect(screen.getByText('No timezone matches “Atlantis”.')).toBeTruthy();
  });
});
