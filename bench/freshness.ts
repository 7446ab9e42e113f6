/**
 * Phase 4, freshness: how long after its `202` an event shows in the stats API (DO outbox alarm →
 * queue → consumer → D1 → query), and how long after it is sent the dashboard's live WebSocket
 * reports it and the public counter's (`/live.js`) counts it. Each sample is one event on a page no other event visits, from a new visitor.
 */
import { EVENT_PATH } from '@tally/sdk/protocol';
import type { BenchProject } from './api.ts';
import { AGENTS, SITE_HOST } from './events.ts';
import { log, sleep } from './progress.ts';
import { type Figure, percentile } from './report.ts';
import type { Stack } from './stack.ts';

const GROUP = 'Freshness';
const TIMEOUT_MS = 10_000;

let visitor = 0;

/** Send one pageview on `path` from a fresh visitor; resolves when the 202 arrives. */
async function sendEvent(stack: Stack, project: BenchProject, path: string): Promise<void> {
  visitor++;
  const response = await fetch(`${stack.tallyUrl}${EVENT_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'text/plain;charset=UTF-8',
      'user-agent': AGENTS[0].ua,
      'cf-connecting-ip': `192.0.2.${visitor % 250}`,
      'mf-cf-blob': JSON.stringify({ country: 'DE' }),
    },
    body: JSON.stringify({ s: project.siteKey, n: 'pageview', u: `https://${SITE_HOST}${path}` }),
  });
  if (response.status !== 202) throw new Error(`event answered ${response.status}: ${await response.text()}`);
}

async function pageviews(stack: Stack, project: BenchProject, path: string): Promise<number> {
  const response = await fetch(`${stack.tallyUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${project.readKey}` },
    body: JSON.stringify({
      project: project.id,
      metrics: ['pageviews'],
      date_range: 'today',
      filters: [['is', 'page', [path]]],
    }),
  });
  if (!response.ok) throw new Error(`query answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { results: { metrics: number[] }[] };
  return body.results[0]?.metrics[0] ?? 0;
}

/** Milliseconds from each 202 until the stats API counts the event (null: not within 10 s). */
async function statsDelays(stack: Stack, project: BenchProject, samples: number): Promise<(number | null)[]> {
  const delays: (number | null)[] = [];
  for (let i = 0; i < samples; i++) {
    const path = `/fresh/stats-${i}-${Date.now()}`;
    await sendEvent(stack, project, path);
    const accepted = performance.now();
    let seen: number | null = null;
    while (performance.now() - accepted < TIMEOUT_MS) {
      if ((await pageviews(stack, project, path)) >= 1) {
        seen = performance.now() - accepted;
        break;
      }
      await sleep(20);
    }
    delays.push(seen);
    // Let the pipeline go idle, so that each sample starts from the same state.
    await sleep(300);
  }
  return delays;
}

/** A live ticket, or null when the live API is not there (404/405). */
async function liveTicket(stack: Stack, project: BenchProject): Promise<string | null> {
  const response = await fetch(`${stack.tallyUrl}/api/projects/${project.id}/live-ticket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${project.token}` },
  });
  if (response.status === 404 || response.status === 405) return null;
  if (response.status !== 201) throw new Error(`live-ticket answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { ticket: string }).ticket;
}

/** What the live sockets send, as far as the bench reads it. */
interface LiveMessage {
  type?: string;
  recent?: { path: string }[];
  visitors?: number;
}

/** An open live WebSocket: `next` resolves with the first message that matches, or null after `timeout` ms. */
interface LiveSocket {
  next(match: (message: LiveMessage) => boolean, timeout: number): Promise<LiveMessage | null>;
  close(): void;
}

/** Open a live WebSocket, or throw when it does not open. */
async function openLiveSocket(url: string, origin?: string): Promise<LiveSocket> {
  // Node's WebSocket (undici) takes headers; a browser would send its page's Origin.
  const socket = new WebSocket(url, (origin ? { headers: { origin } } : undefined) as unknown as string[]);
  const waiters = new Set<(message: LiveMessage) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as LiveMessage;
    for (const waiter of waiters) waiter(message);
  });
  const opened = await new Promise<boolean>((resolve) => {
    socket.addEventListener('open', () => resolve(true), { once: true });
    socket.addEventListener('error', () => resolve(false), { once: true });
  });
  if (!opened) throw new Error('the live WebSocket did not open');
  return {
    next: (match, timeout) =>
      new Promise((resolve) => {
        const waiter = (message: LiveMessage) => {
          if (!match(message)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          resolve(message);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          resolve(null);
        }, timeout);
        waiters.add(waiter);
      }),
    close: () => socket.close(),
  };
}

/**
 * Milliseconds from sending each event (on a path of its own, from a new visitor) until the socket
 * sends a message that `shows` it (null: not within 10 s). `shows` sees the message and the path.
 */
async function socketDelays(
  stack: Stack,
  project: BenchProject,
  socket: LiveSocket,
  samples: number,
  shows: (message: LiveMessage, path: string) => boolean,
): Promise<(number | null)[]> {
  const delays: (number | null)[] = [];
  for (let i = 0; i < samples; i++) {
    // Updates are sent at most once a second: start each sample after the last one's window.
    await sleep(1_100);
    const path = `/fresh/live-${i}-${Date.now()}`;
    const update = socket.next((message) => shows(message, path), TIMEOUT_MS);
    const sent = performance.now();
    await sendEvent(stack, project, path);
    delays.push((await update) ? performance.now() - sent : null);
  }
  return delays;
}

/** Event → the dashboard's live socket lists it in `recent` (null when the live API is not there). */
async function liveDelays(stack: Stack, project: BenchProject, samples: number): Promise<(number | null)[] | null> {
  const ticket = await liveTicket(stack, project);
  if (!ticket) return null;
  const url = `${stack.tallyUrl.replace(/^http/, 'ws')}/api/projects/${project.id}/live?ticket=${encodeURIComponent(ticket)}`;
  const socket = await openLiveSocket(url, stack.tallyUrl);
  try {
    await socket.next((message) => message.type === 'snapshot', TIMEOUT_MS);
    return await socketDelays(stack, project, socket, samples, (message, path) =>
      Boolean(message.type === 'update' && message.recent?.some((event) => event.path === path)),
    );
  } finally {
    socket.close();
  }
}

/**
 * Event → the public counter's socket (`/live.js`) counts one visitor more. It opens from any
 * origin, so without one here; the bench turns the project's `publicLive` on for it.
 */
async function publicCounterDelays(
  stack: Stack,
  project: BenchProject,
  samples: number,
): Promise<(number | null)[] | null> {
  const enabled = await fetch(`${stack.tallyUrl}/api/projects/${project.id}`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${project.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publicLive: true }),
  });
  if (enabled.status === 404 || enabled.status === 405) return null;
  if (!enabled.ok) throw new Error(`publicLive answered ${enabled.status}: ${await enabled.text()}`);
  const url = `${stack.tallyUrl.replace(/^http/, 'ws')}/api/live/public/${encodeURIComponent(project.siteKey)}`;
  const socket = await openLiveSocket(url);
  try {
    const first = await socket.next((message) => message.type === 'count', TIMEOUT_MS);
    let count = first?.visitors ?? 0;
    // Each sample's visitor is new, so the count it shows is one more than the last one seen.
    return await socketDelays(stack, project, socket, samples, (message) => {
      if (message.type !== 'count' || (message.visitors ?? 0) <= count) return false;
      count = message.visitors ?? count;
      return true;
    });
  } finally {
    socket.close();
  }
}

function freshnessFigure(
  id: string,
  label: string,
  delays: (number | null)[] | null,
  limitMs: number,
  why?: string,
): Figure {
  if (!delays) {
    return {
      id,
      group: GROUP,
      label,
      value: null,
      unit: 'ms',
      note: why,
      target: { text: `≤ ${limitMs / 1000} s`, pass: null },
    };
  }
  const seen = delays.filter((d): d is number => d !== null).sort((a, b) => a - b);
  const lost = delays.length - seen.length;
  const worst = lost ? null : (seen[seen.length - 1] ?? null);
  return {
    id,
    group: GROUP,
    label: `${label} (worst of ${delays.length})`,
    value: worst,
    unit: 'ms',
    reference: { label: 'median', value: percentile(seen, 50), unit: 'ms' },
    target: { text: `≤ ${limitMs / 1000} s`, pass: worst === null ? false : worst <= limitMs },
    note: lost ? `${lost} of ${delays.length} not seen within ${TIMEOUT_MS / 1000} s` : undefined,
  };
}

/** A socket's delays, or null and why it has none (the API not built, or the error it gave). */
async function tryDelays(
  measure: () => Promise<(number | null)[] | null>,
): Promise<{ delays: (number | null)[] | null; why?: string }> {
  try {
    const delays = await measure();
    return delays ? { delays } : { delays: null, why: 'n/a (not built)' };
  } catch (error) {
    return { delays: null, why: `n/a (${error instanceof Error ? error.message : String(error)})` };
  }
}

const delaysText = (delays: (number | null)[] | null, why?: string) =>
  delays ? delays.map((d) => (d === null ? 'lost' : `${Math.round(d)} ms`)).join(', ') : why;

export async function benchFreshness(stack: Stack, project: BenchProject, samples: number): Promise<Figure[]> {
  const stats = await statsDelays(stack, project, samples);
  log('fresh', `202 → stats API: ${delaysText(stats)}`);
  const live = await tryDelays(() => liveDelays(stack, project, samples));
  log('fresh', `event → live WebSocket: ${delaysText(live.delays, live.why)}`);
  const counter = await tryDelays(() => publicCounterDelays(stack, project, samples));
  log('fresh', `event → public counter WebSocket: ${delaysText(counter.delays, counter.why)}`);
  return [
    freshnessFigure('freshness.stats', '202 → visible in the stats API', stats, 2_000),
    freshnessFigure('freshness.live', 'event → live WebSocket update', live.delays, 1_000, live.why),
    freshnessFigure('freshness.public', 'event → public counter (live.js) update', counter.delays, 1_000, counter.why),
  ];
}
