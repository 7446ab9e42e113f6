// The session cookie is scoped to /api, so a page request never carries it and the server could
// not render signed-in data anyway: pages render in the browser, which calls the API directly.
export const ssr = false;
export const prerender = false;
