/**
 * Light, dark, or the system's choice. The choice is kept in localStorage and applied as
 * `data-theme` on <html> (app.html applies it before the first paint). Charts read `isDark` to
 * recolour themselves.
 */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'tally-theme';

/**
 * The saved choice, or null. Storage can be blocked (privacy settings, some embedded browsers) and
 * then throws on any access: the theme then lasts for the visit only, and the app goes on.
 */
function readStorage(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Save the choice (null forgets it); a blocked storage is ignored, see `readStorage`. */
function writeStorage(choice: ThemeChoice | null): void {
  try {
    if (choice === null) localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // Blocked: the choice holds until the page is left.
  }
}

class Theme {
  choice = $state<ThemeChoice>('system');
  #systemDark = $state(false);

  get isDark(): boolean {
    return this.choice === 'dark' || (this.choice === 'system' && this.#systemDark);
  }

  /** Read the saved choice and follow the system setting; call once in the browser. */
  init(): void {
    const saved = readStorage();
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
      writeStorage(null);
      delete document.documentElement.dataset.theme;
    } else {
      writeStorage(choice);
      document.documentElement.dataset.theme = choice;
    }
  }

  /**
   * system → the opposite of the system's → the system's own → system, so that the first click
   * always changes what is on screen.
   */
  cycle(): void {
    const other = this.#systemDark ? 'light' : 'dark';
    const same = this.#systemDark ? 'dark' : 'light';
    this.set(this.choice === 'system' ? other : this.choice === other ? same : 'system');
  }
}

export const theme = new Theme();
