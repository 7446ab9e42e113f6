import { redirect } from '@sveltejs/kit';

// The projects list is home; it sends a signed-out visitor to sign in.
export function load() {
  redirect(307, '/projects');
}
