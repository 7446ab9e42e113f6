// Bench-only, bound to the real Tally Worker (TALLY) and reached on its own socket, so that the
// harness never goes through Miniflare's proxy for long calls: POST /drain {queue, batches} hands
// prepared message batches to Tally's queue handler, one batch at a time as a single queue consumer
// would, and times the handler inside workerd (the clock advances on I/O, and every batch is D1
// I/O), so that shipping the batches is not timed. (The cron runs in the meter Worker, which times
// its D1 calls.)
async function drain({ queue, batches }, env) {
  let acked = 0;
  let retried = 0;
  const outcomes = {};
  const started = Date.now();
  for (const [index, bodies] of batches.entries()) {
    const messages = bodies.map((body, i) => ({
      id: `bench-${index}-${i}`,
      timestamp: new Date(),
      attempts: 1,
      body,
    }));
    const result = await env.TALLY.queue(queue, messages);
    outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
    retried += result.retryBatch?.retry ? messages.length : result.retryMessages.length;
    acked += result.ackAll ? messages.length : result.explicitAcks.length;
  }
  return { ms: Date.now() - started, acked, retried, outcomes };
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    const body = await request.json();
    if (pathname === '/drain') return Response.json(await drain(body, env));
    return new Response('not found', { status: 404 });
  },
};
