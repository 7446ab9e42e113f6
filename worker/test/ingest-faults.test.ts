import { EVENT_PATH } from '@tally/sdk/protocol';
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { app } from '../src/app.ts';
import { createProject, expectError, ORIGIN, pageview, storedEvents, USER_AGENTS } from './helpers.ts';

/**
 * An env whose ProjectDO refuses every admission the way a Durable Object does when it is
 * overloaded or unreachable. Fault injection into a Cloudflare binding: everything else is real.
 */
function envWithFailingDurableObject(message: string): Env {
  const stub = { admit: () => Promise.reject(new Error(message)) };
  const namespace = { idFromName: (name: string) => env.PROJECT.idFromName(name), get: () => stub };
  return { ...env, PROJECT: namespace as unknown as Env['PROJECT'] };
}

async function postWith(faultyEnv: Env, body: unknown): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`${ORIGIN}${EVENT_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'user-agent': USER_AGENTS.firefoxWindows },
      body: JSON.stringify(body),
    }),
    faultyEnv,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe('when events cannot be made durable', () => {
  for (const message of [
    'Durable Object is overloaded',
    'Network connection lost',
    'SQLITE_FULL: database or disk is full',
  ]) {
    it(`answers 503 with Retry-After, never 202 (${message})`, async () => {
      const project = await createProject({ hostnames: ['example.com'] });
      const response = await postWith(envWithFailingDurableObject(message), pageview(project.siteKey));
      const error = await expectError(response, 503, 'unavailable');
      expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
      // The cause stays in the logs: nothing internal reaches the client.
      expect(error.message).not.toContain(message);
      expect(await storedEvents(project.id)).toEqual([]);
    });
  }
});
