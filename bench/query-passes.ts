/**
 * Measuring one dashboard view: each of its requests run once through the meter Worker (D1's own
 * rows read) and then timed through the API with the Cache API off, so each answer is computed;
 * beside it, the same request on the empty project (the floor of the API path). What a request
 * costs is what the Worker does when the bench runs: rollups, hourly rollups or raw events.
 */
import { postQuery } from './api.ts';
import { type Budget, status } from './progress.ts';
import type { QueryProject } from './query-data.ts';
import { type DashboardRequest, dashboardRequests, type View } from './query-views.ts';
import { percentile } from './report.ts';
import type { Stack } from './stack.ts';

/** One request of a view, measured. */
export interface Measured {
  name: string;
  onLoad: boolean;
  /** Wall times (ms) through the API; one Worker-side time for a request slower than {@link SLOW_MS}. */
  times: number[];
  /** D1 rows read by the request, from the meter run. */
  rowsRead: number | null;
  /** p50 (ms) of the same request on the empty project. */
  floorMs: number | null;
  /** What the API answered instead of numbers (`400 too_expensive: …`); its rows read still count. */
  error?: string;
  /** Not run: the run's time was up. */
  skipped?: boolean;
}

/**
 * A request slower than this (five times the target) is timed once, by the meter run (the Worker's
 * own time): its p95 is far from the target either way, and repeats would take the time of the
 * views after it.
 */
const SLOW_MS = 250;
/** A request stops being repeated once its samples add up to this. */
const TIME_PER_REQUEST_MS = 1_500;

/** One request measured; a request that fails to answer at all (a timeout) says so, like a refusal. */
async function measure(
  stack: Stack,
  key: string,
  request: DashboardRequest,
  floor: { request: DashboardRequest; key: string },
  repeats: number,
): Promise<Measured> {
  const result: Measured = { name: request.name, onLoad: request.onLoad, times: [], rowsRead: null, floorMs: null };
  try {
    const metered = await postQuery(stack.meterUrl, key, request.body, request.path);
    result.rowsRead = metered.rowsRead;
    result.error = metered.error;
    const workerMs = metered.handlerMs ?? metered.ms;
    if (workerMs > SLOW_MS && !result.error) result.times.push(workerMs);
    let spent = workerMs > SLOW_MS ? Number.POSITIVE_INFINITY : 0;
    while (!result.error && result.times.length < repeats && spent < TIME_PER_REQUEST_MS) {
      const answer = await postQuery(stack.tallyUrl, key, request.body, request.path);
      result.error = answer.error;
      result.times.push(answer.ms);
      spent += answer.ms;
    }
    if (result.error) return result;
    const floorTimes: number[] = [];
    // A reference for the eye, not a figure: a third of the samples.
    for (let i = 0; i < Math.max(1, Math.round(repeats / 3)); i++)
      floorTimes.push((await postQuery(stack.tallyUrl, floor.key, floor.request.body, floor.request.path)).ms);
    result.floorMs = percentile(
      floorTimes.sort((a, b) => a - b),
      50,
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  }
  return result;
}

/**
 * Measure every request of `views`: first what each view's page sends when it opens (the loads,
 * whose rows read are a figure of their own), view by view, then the other tabs. A request runs
 * only while the budget (less `reserveMs` for what follows) covers it, estimated as twice the
 * slowest request so far; the rest are marked as not measured.
 */
export async function measureViews(
  stack: Stack,
  views: readonly View[],
  projects: { project: QueryProject; empty: QueryProject },
  options: { repeats: number; budget: Budget; reserveMs: number; now: number },
): Promise<Measured[][]> {
  const requests = views.map((view) => dashboardRequests(view, projects.project, options.now));
  const floors = views.map((view) => dashboardRequests(view, projects.empty, options.now));
  const measured: Measured[][] = requests.map((list) =>
    list.map(({ name, onLoad }) => ({ name, onLoad, times: [], rowsRead: null, floorMs: null, skipped: true })),
  );
  const order = [true, false].flatMap((onLoad) =>
    requests.flatMap((list, v) => list.flatMap((request, r) => (request.onLoad === onLoad ? [[v, r] as const] : []))),
  );
  let slowest = 0;
  let done = 0;
  const stop = status('queries', () => `${done}/${order.length} requests`);
  try {
    for (const [v, r] of order) {
      if (!options.budget.allows(Math.max(200, slowest * 2), options.reserveMs)) break;
      const started = performance.now();
      const request = requests[v]?.[r] as DashboardRequest;
      const floor = floors[v]?.[r] as DashboardRequest;
      (measured[v] as Measured[])[r] = await measure(
        stack,
        projects.project.readKey,
        request,
        { request: floor, key: projects.empty.readKey },
        options.repeats,
      );
      slowest = Math.max(slowest, performance.now() - started);
      done++;
    }
  } finally {
    stop();
  }
  return measured;
}
