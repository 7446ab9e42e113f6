/** The Worker's entry: HTTP, the queue consumers, cron — and the Durable Object classes. Nothing else. */
import { app } from './app.ts';
import { consumeBatch, type QueueBody } from './pipeline/index.ts';
import { runScheduled } from './cron.ts';

export { ProjectDO } from './live/index.ts';
export { StoreHealth } from './store/index.ts';

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(batch, env);
  },
  async scheduled(controller, env) {
    await runScheduled(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env, QueueBody>;
