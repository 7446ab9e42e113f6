/** The signed-in dashboard's API client: a lost session sends the user to sign in, then back. */
import { goto } from '$app/navigation';
import { createApi } from './client.ts';

export { ApiError, createApi, isAbort } from './client.ts';
export type * from './types.ts';

export const api = createApi({
  onUnauthorized() {
    const here = `${location.pathname}${location.search}`;
    if (location.pathname.startsWith('/signin') || location.pathname.startsWith('/signup')) return;
    void goto(`/signin?next=${encodeURIComponent(here)}`, { replaceState: true });
  },
});
