import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import UnavailableNote from './UnavailableNote.svelte';

describe('the note of days a panel does not cover', () => {
  it('says each reason in words, with its days', () => {
    render(UnavailableNote, {
      unavailable: [
        { from: '2026-05-01', to: '2026-05-03', reason: 'dimension', name: 'language' },
        { from: '2026-04-01', to: '2026-04-01', reason: 'goal', name: 'Signed up' },
        { from: '2026-03-01', to: '2026-04-30', reason: 'retention' },
      ],
    });
    const note = screen.getByRole('note');
    expect(note.textContent).toContain('Language is not available for 2026-05-01 – 2026-05-03');
    expect(note.textContent).toContain('“Signed up” is not available for 2026-04-01:');
    expect(note.textContent).toContain('Not counted for 2026-03-01 – 2026-04-30');
  });

  it('shows nothing when every day is covered', () => {
    const { container } = render(UnavailableNote, { unavailable: undefined });
    expect(container.textContent?.trim()).toBe('');
  });
});
