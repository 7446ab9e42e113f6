/**
 * Data that a component fetches from the API and refetches when its inputs change: the previous
 * answer stays on screen, marked `stale`, while the next loads, late answers are dropped, a transient
 * failure (network, 502-504: a deploy or a restart) is retried once by itself, and any other failed
 * load offers `retry`. Call it during component initialisation (it registers an `$effect`).
 */
import { untrack } from 'svelte';
import { isAbort } from './api/client.ts';

/** Statuses worth one automatic retry: the network, or the API restarting. */
const TRANSIENT = new Set([0, 502, 503, 504]);
const AUTO_RETRY_MS = 1500;

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: Error | null;
  readonly loading: boolean;
  /**
   * `data` is the answer to older inputs (other filters, another range) while the new answer
   * loads: whoever shows it marks it so (`.stale`, `aria-busy`), never as current numbers.
   */
  readonly stale: boolean;
  /** Load again, bypassing the query memory. */
  retry(): void;
}

/**
 * @example
 * ```ts
 * const sources = resource(
 *   () => ({ project: id, metrics: ['visitors'], date_range: '7d', dimensions: ['source'] }),
 *   (body, signal, fresh) => api.query(body, { signal, fresh }),
 * );
 * ```
 */
export function resource<I, T>(
  input: () => I | null,
  fetcher: (input: I, signal: AbortSignal, fresh: boolean) => Promise<T>,
): Resource<T> {
  let data = $state<T | undefined>(undefined);
  let error = $state<Error | null>(null);
  let loading = $state(true);
  let controller: AbortController | null = null;
  let last: I | null = null;
  let generation = 0;

  function run(value: I, fresh: boolean, attempt = 0) {
    controller?.abort();
    const own = new AbortController();
    controller = own;
    const id = ++generation;
    last = value;
    loading = true;
    error = null;
    fetcher(value, own.signal, fresh).then(
      (result) => {
        if (id !== generation) return;
        data = result;
        loading = false;
      },
      (failure: unknown) => {
        if (id !== generation || isAbort(failure)) return;
        const status = (failure as { status?: unknown } | null)?.status;
        if (attempt === 0 && typeof status === 'number' && TRANSIENT.has(status)) {
          setTimeout(() => {
            if (id === generation) run(value, true, 1);
          }, AUTO_RETRY_MS);
          return;
        }
        error = failure instanceof Error ? failure : new Error(String(failure));
        loading = false;
      },
    );
  }

  $effect(() => {
    const value = input();
    if (value === null) {
      // Nothing is asked (any more): nothing is loading, and what an earlier input left is not stale.
      loading = false;
      return;
    }
    untrack(() => run(value, false));
    return () => {
      generation++;
      controller?.abort();
    };
  });

  return {
    get data() {
      return data;
    },
    get error() {
      return error;
    },
    get loading() {
      return loading;
    },
    get stale() {
      return loading && data !== undefined;
    },
    retry() {
      if (last !== null) run(last, true);
    },
  };
}
