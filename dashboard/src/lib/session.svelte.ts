/**
 * Who is signed in, shared by the app shell and the pages: loaded once from `GET /api/auth/me`
 * and updated on sign-in, sign-out and project changes.
 */
import { api } from './api/index.ts';
import type { Me } from './api/types.ts';

class Session {
  me = $state<Me | null>(null);
  #loading: Promise<Me | null> | null = null;

  /** The signed-in user; a 401 sends the browser to sign in (the API client does that). */
  load(force = false): Promise<Me | null> {
    if (this.me && !force) return Promise.resolve(this.me);
    this.#loading ??= api
      .get<Me>('/api/auth/me')
      .then((me) => {
        this.me = me;
        return me;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }

  async signOut(): Promise<void> {
    try {
      await api.post('/api/auth/signout');
    } finally {
      this.me = null;
      api.clearQueryCache();
    }
  }
}

export const session = new Session();

/** Where to go after signing in: a `next` path on this site, never another origin. */
export function safeNext(next: string | null): string {
  return next?.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') ? next : '/projects';
}
