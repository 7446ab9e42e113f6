/**
 * The demo project's goals and funnel, created through the API's own routes (so the worker
 * validates them and re-marks the hours they change, as for any user's goal). Idempotent by name:
 * each `npm start` creates only what is missing, and leaves goals a user edited or added alone.
 */

/** A goal or funnel step as `POST /api/projects/{id}/goals` takes it. */
type Step = { kind: 'pageview'; path: string } | { kind: 'event'; eventName: string };

/** A pageview goal and a custom-event goal; both have history (demo-history.ts) and live traffic. */
export const DEMO_GOALS: readonly (Step & { name: string })[] = [
  { name: 'Visit pricing', kind: 'pageview', path: '/pricing' },
  { name: 'Signup', kind: 'event', eventName: 'signup' },
];

/** The way from the home page to a signup, as the demo's visitors walk it. */
export const DEMO_FUNNEL: { name: string; steps: readonly Step[] } = {
  name: 'Home to signup',
  steps: [
    { kind: 'pageview', path: '/' },
    { kind: 'pageview', path: '/pricing' },
    { kind: 'pageview', path: '/signup' },
    { kind: 'event', eventName: 'signup' },
  ],
};

/** One call to the API, signed in: method, path, JSON body; the answer's JSON (an error throws). */
export type ApiCall = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<unknown>;

/**
 * Sign in with `mode: "token"` and return a caller that sends the access token. `fetcher` is
 * `fetch` against a running worker (or, in tests, the worker's own `fetch`).
 *
 * @example
 * ```ts
 * const api = await signIn(fetch, 'http://127.0.0.1:8787', DEMO);
 * ```
 */
export async function signIn(
  fetcher: (url: string, init: RequestInit) => Promise<Response>,
  origin: string,
  account: { email: string; password: string },
): Promise<ApiCall> {
  const call = async (method: string, path: string, body: unknown, token?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const response = await fetcher(`${origin}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const answer = (await response.json()) as unknown;
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`);
    return answer;
  };
  const session = (await call('POST', '/api/auth/signin', { ...account, mode: 'token' })) as { accessToken: string };
  return (method, path, body) => call(method, path, body, session.accessToken);
}

/**
 * Create the demo goals and funnel that the project lacks (by name); returns the names created.
 *
 * @example
 * ```ts
 * const created = await ensureDemoGoals(api, 'demo'); // ['Visit pricing', 'Signup', 'Home to signup'] the first time
 * ```
 */
export async function ensureDemoGoals(api: ApiCall, projectId: string): Promise<string[]> {
  const base = `/api/projects/${encodeURIComponent(projectId)}`;
  const { goals } = (await api('GET', `${base}/goals`)) as { goals: { name: string }[] };
  const { funnels } = (await api('GET', `${base}/funnels`)) as { funnels: { name: string }[] };
  const created: string[] = [];
  for (const goal of DEMO_GOALS) {
    if (goals.some((existing) => existing.name === goal.name)) continue;
    await api('POST', `${base}/goals`, goal);
    created.push(goal.name);
  }
  if (!funnels.some((existing) => existing.name === DEMO_FUNNEL.name)) {
    await api('POST', `${base}/funnels`, DEMO_FUNNEL);
    created.push(DEMO_FUNNEL.name);
  }
  return created;
}
