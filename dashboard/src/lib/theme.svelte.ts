/**
 * Light, dark, or the system's choice. The choice is kept in localStorage and applied as
 * `data-theme` on <html> (app.html applies it before the first paint). Charts read `isDark` to
 * recolour themselves.
 */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'tally-theme';

class Theme {
  choice = $state<ThemeChoice>('system');
  #systemDark = $state(false);

  get isDark(): boolean {
    return this.choice === 'dark' || (this.choice === 'system' && this.#systemDark);
  }

  /** Read the saved choice and follow the system setting; call once in the browser. */
  init(): void {
    const saved = localStorage.getItem(KEY);
    this.choice = saved === 'dark' || saved === 'light' ? saved : 'system';
    const media = matchMedia('(prefers-color-scheme: dark)');
    this.#systemDark = media.matches;
    media.addEventListener('change', (event) => {
      this.#systemDark = event.matches;
    });
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    if (choice === 'system') {
      localStorage.removeItem(KEY);
      delete document.documentElement.dataset.theme;
    } else {
      localStorage.setItem(KEY, choice);
      document.documentElement.dataset.theme = choice;
    }
  }

  /** system → light → dark → system. */
  cycle(): void {
    this.set(this.choice === 'system' ? 'light' : this.choice === 'light' ? 'dark' : 'system');
  }
}

export const theme = new Theme();
